"""Tickets and seats in the single table.

| item | PK | SK | indexes |
|---|---|---|---|
| ticket | ``SPACE#<space>`` | ``TICKET#<ticket id>`` | GSI1 ``TICKETS#<buyer>`` / ``<created>#<id>`` (my tickets); GSI2 ``HOLDS#<space>`` / ``<hold expiry>#<id>`` while pending (lapsed holds) |
| buyer claim | ``SPACE#<space>`` | ``BUYER#<buyer>`` | ``ticket_id``, ``status``: exists while the buyer's ticket holds a seat |

Capacity lives on the Space item: ``seats_held`` counts pending + paid tickets and may never pass
``ticket.quantity``; ``ticket.sold`` counts paid ones; ``subscriber_count`` counts reminders and
paid tickets. Every change of a ticket's state is ONE transaction that also moves those counters,
the buyer claim, and (for money) the creator's ledger line and earnings, each guarded by a
condition on the ticket's current status. So counts are exact under concurrency and a state change
happens at most once, however often a webhook or cancel is retried.

A lapsed hold still counts in ``seats_held`` until it is released; the service releases lapsed
holds (conditionally, once each) before it answers ``sold_out``, so paid + unexpired pending never
exceeds the quantity and a lapsed hold never blocks a buyer.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.payouts import earnings_change, ledger_put
from chalicelib.adapters.dynamodb.table import Table, TransactionCanceled, serialize, values
from chalicelib.domain.errors import InvalidState, NotFound, SoldOut
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.spaces import SpaceState
from chalicelib.domain.tickets import (
    PAID,
    PENDING,
    REFUNDED,
    BuyerHasTicket,
    HoldLimit,
    LedgerEntry,
    ReleasedStatus,
    Ticket,
)

SELLING_STATES = (SpaceState.scheduled.value, SpaceState.live.value)
_NAMES = {"#s": "status"}


def _space_key(space_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.META)


def _ticket_key(space_id: str, ticket_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.ticket_sk(ticket_id))


def _claim_key(space_id: str, buyer_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.buyer_sk(buyer_id))


def _claim_item(ticket: Ticket, status: str) -> dict[str, Any]:
    return {"PK": keys.space_pk(ticket.space_id), "SK": keys.buyer_sk(ticket.buyer_id), "ticket_id": ticket.id,
            "status": status}


def ticket_to_item(ticket: Ticket) -> dict[str, Any]:
    item = ticket.model_dump(mode="json")
    item.update({
        "PK": keys.space_pk(ticket.space_id), "SK": keys.ticket_sk(ticket.id),
        "GSI1PK": keys.buyer_tickets_gsi1(ticket.buyer_id), "GSI1SK": f"{ticket.created_at.isoformat()}#{ticket.id}",
        "hold_until": int(ticket.hold_expires_at.timestamp()),
    })
    if ticket.status == PENDING:
        item.update({"GSI2PK": keys.holds_gsi2(ticket.space_id),
                     "GSI2SK": f"{ticket.hold_expires_at.isoformat()}#{ticket.id}"})
    return item


def ticket_from_item(item: dict[str, Any]) -> Ticket:
    return Ticket.model_validate({k: v for k, v in item.items()
                                  if k not in ("PK", "SK", "hold_until") and not k.startswith("GSI")})


def _ledger(ticket: Ticket, kind: Literal["sale", "refund"], at: datetime, *,
            amount_cents: int | None = None) -> dict[str, Any]:
    amount = ticket.amount_cents if amount_cents is None else amount_cents
    return ledger_put(ticket.host_id, LedgerEntry(
        kind=kind, ticket_id=ticket.id, space_id=ticket.space_id, buyer_id=ticket.buyer_id,
        amount_cents=amount, platform_fee_cents=ticket.platform_fee_cents,
        host_net_cents=amount - ticket.platform_fee_cents, currency=ticket.currency, fee_tier=ticket.fee_tier, at=at))


def _set_status(ticket: Ticket, to: str, stamp: str, now: datetime, *, expect: str,
                extra_sets: dict[str, Any] | None = None, condition: str = "", cond_values: dict[str, Any] | None = None) -> dict[str, Any]:
    sets = {"status_new": to, stamp: now.isoformat(), **(extra_sets or {})}
    expr = "SET #s = :status_new, " + ", ".join(f"{k} = :{k}" for k in sets if k != "status_new")
    expr += " REMOVE GSI2PK, GSI2SK"
    cond = "#s = :expect" + (f" AND {condition}" if condition else "")
    return {"Update": {
        "Key": _ticket_key(ticket.space_id, ticket.id), "UpdateExpression": expr, "ConditionExpression": cond,
        "ExpressionAttributeNames": dict(_NAMES),
        "ExpressionAttributeValues": values({**{f":{k}": v for k, v in sets.items()}, ":expect": expect,
                                             **(cond_values or {})}),
    }}


_HOLDS = "HOLDS"


class DynamoTickets:
    """Implements ``TicketRepository`` and ``TicketGate``."""

    def __init__(self, table: Table, *, max_open_holds: int = 3) -> None:
        self.table = table
        self.max_open_holds = max_open_holds

    # -- a buyer's open holds (USER#<buyer>/HOLDS {refs: SS of "<space id>#<ticket id>"}) -----------
    # A pending ticket's ref is added in the transaction that takes its seat (refused past
    # ``max_open_holds``: exact under concurrency) and removed in the one that moves it on.
    @staticmethod
    def _hold_ref(ticket: Ticket) -> str:
        return f"{ticket.space_id}#{ticket.id}"

    def _hold_add(self, ticket: Ticket) -> dict[str, Any]:
        return {"Update": {
            "Key": keys.key(keys.user_pk(ticket.buyer_id), _HOLDS), "UpdateExpression": "ADD refs :r",
            "ConditionExpression": "attribute_not_exists(refs) OR size(refs) < :max",
            "ExpressionAttributeValues": values({":r": {self._hold_ref(ticket)}, ":max": self.max_open_holds})}}

    def _hold_remove(self, ticket: Ticket) -> dict[str, Any]:
        return {"Update": {
            "Key": keys.key(keys.user_pk(ticket.buyer_id), _HOLDS), "UpdateExpression": "DELETE refs :r",
            "ExpressionAttributeValues": values({":r": {self._hold_ref(ticket)}})}}

    def open_holds(self, buyer_id: str) -> list[tuple[str, str]]:
        """(space id, ticket id) of the buyer's pending tickets (lapsed ones until released)."""
        item = self.table.get(keys.user_pk(buyer_id), _HOLDS, consistent=True)
        refs = sorted((item or {}).get("refs") or ())
        return [(space, ticket) for space, _, ticket in (str(r).partition("#") for r in refs)]

    # -- reads -----------------------------------------------------------------------------------
    def has_paid_ticket(self, space_id: str, user_id: str) -> bool:
        claim = self.table.get(keys.space_pk(space_id), keys.buyer_sk(user_id), consistent=True)
        return bool(claim and claim.get("status") == PAID)

    def get(self, space_id: str, ticket_id: str) -> Ticket | None:
        item = self.table.get(keys.space_pk(space_id), keys.ticket_sk(ticket_id), consistent=True)
        return ticket_from_item(item) if item else None

    def require(self, space_id: str, ticket_id: str) -> Ticket:
        ticket = self.get(space_id, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        return ticket

    def buyer_ticket(self, space_id: str, buyer_id: str) -> Ticket | None:
        """The buyer's ticket that holds a seat in the Space, if any."""
        claim = self.table.get(keys.space_pk(space_id), keys.buyer_sk(buyer_id), consistent=True)
        return self.get(space_id, claim["ticket_id"]) if claim else None

    def space_tickets_page(self, space_id: str, statuses: tuple[str, ...], page: PageRequest) -> Page[Ticket]:
        """One page of a Space's tickets (``limit`` read, strongly consistent), those in
        ``statuses``, and where the next page starts. A ticket keeps its key whatever its status,
        so a position stays valid while the tickets before it change."""
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":p": keys.TICKET}),
            ConsistentRead=True, limit=page.limit, start_key=page.start)
        return Page([t for t in map(ticket_from_item, items) if t.status in statuses], last)

    def lapsed_holds(self, space_id: str, now: datetime, limit: int = 100) -> list[Ticket]:
        """Pending tickets whose hold has run out (from the sparse GSI2 of holds)."""
        items, _ = self.table.query(
            index="GSI2", KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :now",
            ExpressionAttributeValues=values({":pk": keys.holds_gsi2(space_id), ":now": now.isoformat()}), limit=limit)
        return [t for t in map(ticket_from_item, items) if t.hold_lapsed(now)]

    def buyer_page(self, buyer_id: str, page: PageRequest) -> Page[Ticket]:
        """The buyer's tickets, newest first."""
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.buyer_tickets_gsi1(buyer_id)}),
            ScanIndexForward=False, limit=page.limit, start_key=page.start)
        return Page([ticket_from_item(i) for i in items], last)

    # -- writes ----------------------------------------------------------------------------------
    def hold_seat(self, ticket: Ticket) -> None:
        """Take a seat for a new pending ticket: one transaction of the counter (below the
        quantity, Space still selling), the buyer's claim (one per buyer) and the ticket.

        Raises SoldOut, InvalidState, or BuyerHasTicket."""
        meta = {"Update": {
            "Key": _space_key(ticket.space_id),
            "UpdateExpression": "SET seats_held = if_not_exists(seats_held, :zero) + :one",
            "ConditionExpression": "attribute_exists(PK) AND #state IN (:sched, :live) AND attribute_exists(#t.#q) "
                                   "AND (attribute_not_exists(seats_held) OR seats_held < #t.#q)",
            "ExpressionAttributeNames": {"#state": "state", "#t": "ticket", "#q": "quantity"},
            "ExpressionAttributeValues": values({":zero": 0, ":one": 1, ":sched": SELLING_STATES[0],
                                                 ":live": SELLING_STATES[1]}),
        }}
        claim = {"Put": {"Item": serialize(_claim_item(ticket, PENDING)),
                         "ConditionExpression": "attribute_not_exists(PK)"}}
        item = {"Put": {"Item": serialize(ticket_to_item(ticket)), "ConditionExpression": "attribute_not_exists(PK)"}}
        try:
            self.table.transact([meta, claim, item, self._hold_add(ticket)])
        except TransactionCanceled as exc:
            if exc.failed(3):
                raise HoldLimit(self.max_open_holds) from exc
            if exc.failed(1):
                existing = self.table.get(keys.space_pk(ticket.space_id), keys.buyer_sk(ticket.buyer_id),
                                          consistent=True)
                if existing:
                    raise BuyerHasTicket(existing["ticket_id"]) from exc
            if exc.failed(0):
                space = self.table.get(keys.space_pk(ticket.space_id), keys.META, consistent=True)
                if space is None:
                    raise NotFound(f"no Space {ticket.space_id}") from exc
                if space.get("state") not in SELLING_STATES:
                    raise InvalidState(f"tickets are not sold for a Space that is {space.get('state')}",
                                       details={"state": space.get("state")}) from exc
                raise SoldOut("this Space is sold out", details={"quantity": (space.get("ticket") or {}).get("quantity")}) from exc
            raise

    def attach_payment(self, ticket: Ticket, payment_intent_id: str) -> None:
        self.table.update(
            keys.space_pk(ticket.space_id), keys.ticket_sk(ticket.id),
            UpdateExpression="SET payment_intent_id = :pi", ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=values({":pi": payment_intent_id}))

    def release(self, ticket: Ticket, to_status: ReleasedStatus, now: datetime, *,
                only_if_lapsed: bool = False) -> bool:
        """pending -> expired/failed/canceled, giving the seat back. False if the ticket was no
        longer pending (or, with ``only_if_lapsed``, its hold had not run out)."""
        condition, cond_values = ("hold_until <= :now_epoch", {":now_epoch": int(now.timestamp())}) if only_if_lapsed else ("", None)
        writes = [
            _set_status(ticket, to_status, "released_at", now, expect=PENDING, condition=condition, cond_values=cond_values),
            {"Update": {"Key": _space_key(ticket.space_id), "UpdateExpression": "ADD seats_held :minus",
                        "ExpressionAttributeValues": values({":minus": -1})}},
            self._claim_delete(ticket),
            self._hold_remove(ticket),
        ]
        return self._try(writes)

    def mark_paid(self, ticket: Ticket, now: datetime, payment_intent_id: str | None = None, *,
                  received_cents: int | None = None) -> Literal["paid", "stale", "no_seat"]:
        """The payment succeeded. From ``pending`` the ticket keeps its seat; from a released
        status it must take a seat again. Sale line, earnings, ``sold`` and ``subscriber_count``
        move in the same transaction.

        Returns ``"paid"``, ``"stale"`` (the ticket was not in ``ticket.status`` any more) or
        ``"no_seat"`` (the Space stopped selling, is full, or the buyer holds another ticket)."""
        # the sale is booked at what Stripe says it received (the webhook only calls this when
        # that equals the ticket's price, so the refund line later mirrors it exactly)
        received = ticket.amount_cents if received_cents is None else received_cents
        reclaim = ticket.status != PENDING
        seat = ("SET #t.#sold = #t.#sold + :one, seats_held = if_not_exists(seats_held, :zero) + :one"
                if reclaim else "SET #t.#sold = #t.#sold + :one")
        cond = "attribute_exists(PK) AND #state IN (:sched, :live)"
        if reclaim:
            cond += " AND (attribute_not_exists(seats_held) OR seats_held < #t.#q)"
        names = {"#state": "state", "#t": "ticket", "#sold": "sold"}
        vals: dict[str, Any] = {":one": 1, ":sched": SELLING_STATES[0], ":live": SELLING_STATES[1]}
        if reclaim:
            names["#q"] = "quantity"
            vals[":zero"] = 0
        writes = [
            _set_status(ticket, PAID, "paid_at", now, expect=ticket.status,
                        extra_sets={"payment_intent_id": payment_intent_id} if payment_intent_id else None),
            {"Update": {"Key": _space_key(ticket.space_id), "UpdateExpression": seat + " ADD subscriber_count :one",
                        "ConditionExpression": cond, "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values(vals)}},
            ({"Put": {"Item": serialize(_claim_item(ticket, PAID)),
                      "ConditionExpression": "attribute_not_exists(PK)"}} if reclaim else
             {"Update": {"Key": _claim_key(ticket.space_id, ticket.buyer_id), "UpdateExpression": "SET #s = :paid",
                         "ConditionExpression": "ticket_id = :tk", "ExpressionAttributeNames": dict(_NAMES),
                         "ExpressionAttributeValues": values({":paid": PAID, ":tk": ticket.id})}}),
            *([] if reclaim else [self._hold_remove(ticket)]),
            _ledger(ticket, "sale", now, amount_cents=received),
            earnings_change(ticket.host_id, gross=received, fee=ticket.platform_fee_cents,
                            net=received - ticket.platform_fee_cents, sold=1, refunded=0),
        ]
        try:
            self.table.transact(writes)
            return "paid"
        except TransactionCanceled as exc:
            if exc.failed(0):
                return "stale"
            if exc.failed(1) or exc.failed(2):
                return "no_seat"
            raise

    def mark_refunded(self, ticket: Ticket, now: datetime, refund_id: str | None) -> bool:
        """The money went back. A paid ticket gives up its seat, ``sold``, its subscriber count
        and its earnings (with a refund line); a pending one only its seat; a released one
        nothing. False if the ticket was no longer in ``ticket.status``."""
        sets = {"refund_id": refund_id} if refund_id else None
        writes = [_set_status(ticket, REFUNDED, "refunded_at", now, expect=ticket.status, extra_sets=sets)]
        if ticket.status == PAID:
            writes += [
                {"Update": {"Key": _space_key(ticket.space_id),
                            "UpdateExpression": "SET #t.#sold = #t.#sold - :one ADD seats_held :minus, subscriber_count :minus",
                            "ExpressionAttributeNames": {"#t": "ticket", "#sold": "sold"},
                            "ExpressionAttributeValues": values({":one": 1, ":minus": -1})}},
                self._claim_delete(ticket),
                _ledger(ticket, "refund", now),
                earnings_change(ticket.host_id, gross=-ticket.amount_cents, fee=-ticket.platform_fee_cents,
                                net=-ticket.host_net_cents, sold=0, refunded=1),
            ]
        elif ticket.status == PENDING:
            writes += [
                {"Update": {"Key": _space_key(ticket.space_id), "UpdateExpression": "ADD seats_held :minus",
                            "ExpressionAttributeValues": values({":minus": -1})}},
                self._claim_delete(ticket),
                self._hold_remove(ticket),
            ]
        return self._try(writes)

    # -- building blocks -------------------------------------------------------------------------
    @staticmethod
    def _claim_delete(ticket: Ticket) -> dict[str, Any]:
        return {"Delete": {"Key": _claim_key(ticket.space_id, ticket.buyer_id),
                           "ConditionExpression": "ticket_id = :tk",
                           "ExpressionAttributeValues": values({":tk": ticket.id})}}

    def _try(self, writes: list[dict[str, Any]]) -> bool:
        """Run a state change guarded by the ticket's status (item 0); False if it had moved on."""
        try:
            self.table.transact(writes)
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            raise
