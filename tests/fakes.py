"""In-memory implementations of the ports (``chalicelib/ports.py``) for fast service tests.

Each keeps the semantics the services rely on from the real adapter (conditional writes that
refuse a stale change, caps, idempotent Stripe keys), and nothing more. A fake that drifts from
its port fails mypy where ``tests/unit/test_fakes_fit_ports.py`` assigns it to the port type.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from chalicelib.domain.errors import NotFound, SoldOut, UpstreamUnavailable
from chalicelib.domain.jobs import Job
from chalicelib.domain.media import MediaEvent, MediaParticipant
from chalicelib.domain.pages import JsonObject, Page, PageRequest
from chalicelib.domain.payments import AccountState, AnyPaymentEvent, TicketRef
from chalicelib.domain.roles import Member, Role, StageChanged
from chalicelib.domain.spaces import MAX_COHOSTS, MAX_SPEAKERS, Space, SpaceState
from chalicelib.domain.tickets import (
    PAID,
    PENDING,
    REFUNDED,
    BuyerHasTicket,
    Earnings,
    LedgerEntry,
    PaymentSheet,
    PayoutAccount,
    ReleasedStatus,
    Ticket,
    TicketStatus,
)
from chalicelib.ports import IdempotencyRecord, MarkPaid, TicketPaymentRequest

T = TypeVar("T")


def _page(items: list[T], page: PageRequest) -> Page[T]:
    """Offset paging over a list (the position is the offset)."""
    offset = (page.start or {}).get("offset", 0)
    start = offset if isinstance(offset, int) else 0
    chunk = items[start:start + page.limit]
    end = start + len(chunk)
    return Page(chunk, {"offset": end} if end < len(items) else None)


# -- Spaces and their members ---------------------------------------------------------------------
class InMemorySpaces:
    def __init__(self, *spaces: Space) -> None:
        self.items: dict[str, Space] = {s.id: s for s in spaces}

    def get(self, space_id: str, *, consistent: bool = False) -> Space | None:
        return self.items.get(space_id)

    def require(self, space_id: str, *, consistent: bool = False) -> Space:
        space = self.get(space_id)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        return space

    def get_many(self, space_ids: Sequence[str]) -> list[Space]:
        return [self.items[s] for s in space_ids if s in self.items]

    def create(self, space: Space) -> None:
        self.items[space.id] = space

    def save_details(self, before: Space, after: Space) -> None:
        self.items[after.id] = after

    def transition(self, before: Space, after: Space) -> None:
        if self.require(before.id).state is not before.state:
            raise StageChanged("state moved on")
        self.items[after.id] = after

    def list_page(self, state: SpaceState, topic: str | None, page: PageRequest) -> Page[Space]:
        listed = [s for s in self.items.values() if s.state is state and (topic is None or topic in s.topics)]
        return _page(listed, page)


class InMemoryMembers:
    """Members, with the stage roles kept on the Space (as the adapter keeps them), caps enforced."""

    def __init__(self, spaces: InMemorySpaces) -> None:
        self.spaces = spaces
        self.members: dict[tuple[str, str], Member] = {}
        self.moves: list[tuple[str, str, str]] = []  # (user, from, to) in the order they were stored

    def get(self, space_id: str, user_id: str, *, consistent: bool = False) -> Member | None:
        return self.members.get((space_id, user_id))

    def space_and_member(self, space_id: str, user_id: str) -> tuple[Space | None, Member | None]:
        return self.spaces.get(space_id), self.get(space_id, user_id)

    def raise_hand(self, space_id: str, user_id: str, now: datetime) -> Member:
        current = self.get(space_id, user_id) or Member(space_id=space_id, user_id=user_id)
        member = current.model_copy(update={"hand_raised_at": current.hand_raised_at or now})
        self.members[(space_id, user_id)] = member
        return member

    def lower_hand(self, space_id: str, user_id: str) -> bool:
        member = self.get(space_id, user_id)
        if member is None or member.hand_raised_at is None:
            return False
        self.members[(space_id, user_id)] = member.model_copy(update={"hand_raised_at": None})
        return True

    def hands_page(self, space_id: str, page: PageRequest) -> Page[Member]:
        hands = sorted((m for (s, _), m in self.members.items() if s == space_id and m.hand_raised_at),
                       key=lambda m: m.hand_raised_at or datetime.min)
        return _page(hands, page)

    def move(self, space_id: str, user_id: str, *, from_role: str, to_role: str, by: str, now: datetime) -> None:
        space = self.spaces.require(space_id)
        if space.role_of(user_id) != from_role or space.state not in (SpaceState.live, SpaceState.scheduled):
            raise StageChanged("the role moved on")
        cohosts = [u for u in space.cohost_ids if u != user_id]
        speakers = [u for u in space.speaker_ids if u != user_id]
        if to_role == Role.cohost.value:
            if len(cohosts) >= MAX_COHOSTS:
                raise StageChanged("co-hosts full")
            cohosts.append(user_id)
        elif to_role == Role.speaker.value:
            if len(speakers) >= MAX_SPEAKERS:
                raise StageChanged("stage full")
            speakers.append(user_id)
        self.spaces.items[space_id] = space.model_copy(update={"cohost_ids": sorted(cohosts),
                                                                "speaker_ids": sorted(speakers)})
        self.moves.append((user_id, from_role, to_role))

    def ban(self, space_id: str, user_id: str, *, by: str, now: datetime) -> None:
        role = self.spaces.require(space_id).role_of(user_id)
        if role != Role.listener.value:
            self.move(space_id, user_id, from_role=role, to_role=Role.listener.value, by=by, now=now)
        self.members[(space_id, user_id)] = Member(space_id=space_id, user_id=user_id, banned=True, banned_at=now, banned_by=by)

    def unban(self, space_id: str, user_id: str, *, restore: str, now: datetime) -> None:
        self.members[(space_id, user_id)] = Member(space_id=space_id, user_id=user_id)
        if restore != Role.listener.value:
            self.move(space_id, user_id, from_role=Role.listener.value, to_role=restore, by="system", now=now)


# -- the media server -------------------------------------------------------------------------------
@dataclass
class FakeMedia:
    """The media server: who is connected with which role; ``down`` makes every call fail."""

    connected: dict[tuple[str, str], str] = field(default_factory=dict)  # (space, user) -> role
    rooms: set[str] = field(default_factory=set)
    sent: list[tuple[str, str, JsonObject, list[str]]] = field(default_factory=list)
    muted_tracks: list[tuple[str, str, str]] = field(default_factory=list)  # (space, user, track sid)
    dispatches: dict[tuple[str, str], JsonObject] = field(default_factory=dict)
    down: bool = False

    @property
    def client_url(self) -> str:
        return "ws://media.invalid"

    @property
    def configured(self) -> bool:
        return True

    def ping(self) -> None:
        self._up()

    def _up(self) -> None:
        if self.down:
            raise UpstreamUnavailable("the media server cannot be reached", details={"upstream": "livekit"})

    def join_token(self, space_id: str, user_id: str, role: str) -> tuple[str, datetime]:
        return f"token:{space_id}:{user_id}:{role}", datetime(2030, 1, 1)

    def create_room(self, space_id: str) -> None:
        self._up()
        self.rooms.add(space_id)

    def delete_room(self, space_id: str) -> None:
        self._up()
        self.rooms.discard(space_id)

    def set_role(self, space_id: str, user_id: str, role: str) -> bool:
        self._up()
        if (space_id, user_id) not in self.connected:
            return False
        self.connected[(space_id, user_id)] = role
        return True

    def remove_participant(self, space_id: str, user_id: str) -> bool:
        self._up()
        return self.connected.pop((space_id, user_id), None) is not None

    def microphones(self, space_id: str, user_id: str) -> dict[str, bool] | None:
        self._up()
        return None if (space_id, user_id) not in self.connected else {}

    def mute_track(self, space_id: str, user_id: str, track_sid: str) -> bool:
        self._up()
        self.muted_tracks.append((space_id, user_id, track_sid))
        return (space_id, user_id) in self.connected

    def send_data(self, space_id: str, topic: str, payload: JsonObject, to: Sequence[str] | None = None) -> None:
        self._up()
        self.sent.append((space_id, topic, payload, list(to or [])))

    def participants(self, space_id: str) -> list[MediaParticipant]:
        self._up()
        return [MediaParticipant(identity=u, sid=f"PA_{u}", role=r, publishing=False, muted=True)
                for (s, u), r in self.connected.items() if s == space_id]

    def verify_webhook(self, body: bytes, authorization: str | None) -> MediaEvent:
        raise NotImplementedError("webhooks are tested against the real adapter")

    def dispatch_agent(self, space_id: str, agent_name: str, metadata: JsonObject) -> bool:
        """Agent dispatch: one per (room, agent), as the real adapter checks ``list_dispatch``."""
        self._up()
        if (space_id, agent_name) in self.dispatches:
            return False
        self.dispatches[(space_id, agent_name)] = metadata
        return True


@dataclass
class Gate:
    """``TicketGate``: these (space, user) pairs hold a paid ticket."""

    paid: set[tuple[str, str]] = field(default_factory=set)

    def has_paid_ticket(self, space_id: str, user_id: str) -> bool:
        return (space_id, user_id) in self.paid


# -- the work queue, idempotency, webhook dedupe ---------------------------------------------------------
@dataclass
class InMemoryQueue:
    sent: list[Job] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    down: bool = False

    @property
    def configured(self) -> bool:
        return True

    def ping(self) -> None:
        return None

    def send(self, jobs: Sequence[Job]) -> None:
        if self.down:
            raise UpstreamUnavailable("the work queue failed")
        self.sent.extend(jobs)

    def delete(self, receipt_handles: Sequence[str]) -> None:
        self.deleted.extend(receipt_handles)


@dataclass
class InMemoryIdempotencyStore:
    records: dict[str, tuple[IdempotencyRecord, int]] = field(default_factory=dict)  # scope -> (record, held until)

    def claim(self, scope: str, fingerprint: str, *, now: int, lease_until: int,
              expires_at: int) -> IdempotencyRecord | None:
        held = self.records.get(scope)
        if held is not None and held[1] >= now:
            return held[0]
        self.records[scope] = (IdempotencyRecord(status="in_progress", fingerprint=fingerprint), lease_until)
        return None

    def complete(self, scope: str, *, status_code: int, body: str, expires_at: int) -> None:
        record = self.records[scope][0]
        self.records[scope] = (IdempotencyRecord("completed", record.fingerprint, status_code, body), expires_at)

    def release(self, scope: str) -> None:
        self.records.pop(scope, None)


# -- money --------------------------------------------------------------------------------------------
class InMemoryTickets:
    """Tickets and seats with the adapter's guards: a state change applies only from the status
    it was read in, a seat is taken only below the quantity, one seat per buyer."""

    def __init__(self, spaces: InMemorySpaces) -> None:
        self.spaces = spaces
        self.items: dict[str, Ticket] = {}
        self.seats: dict[str, int] = {}

    def _seat_holders(self, space_id: str) -> dict[str, Ticket]:
        return {t.buyer_id: t for t in self.items.values() if t.space_id == space_id and t.status in (PENDING, PAID)}

    def has_paid_ticket(self, space_id: str, user_id: str) -> bool:
        held = self._seat_holders(space_id).get(user_id)
        return held is not None and held.status == PAID

    def get(self, space_id: str, ticket_id: str) -> Ticket | None:
        return self.items.get(ticket_id)

    def require(self, space_id: str, ticket_id: str) -> Ticket:
        ticket = self.get(space_id, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        return ticket

    def buyer_ticket(self, space_id: str, buyer_id: str) -> Ticket | None:
        return self._seat_holders(space_id).get(buyer_id)

    def space_tickets_page(self, space_id: str, statuses: tuple[str, ...], page: PageRequest) -> Page[Ticket]:
        ordered = sorted((t for t in self.items.values() if t.space_id == space_id), key=lambda t: t.id)
        read = _page(ordered, page)
        return Page([t for t in read.items if t.status in statuses], read.next)

    def lapsed_holds(self, space_id: str, now: datetime, limit: int = 100) -> list[Ticket]:
        return [t for t in self.items.values() if t.space_id == space_id and t.hold_lapsed(now)][:limit]

    def buyer_page(self, buyer_id: str, page: PageRequest) -> Page[Ticket]:
        return _page(sorted((t for t in self.items.values() if t.buyer_id == buyer_id),
                            key=lambda t: t.created_at, reverse=True), page)

    def hold_seat(self, ticket: Ticket) -> None:
        space = self.spaces.require(ticket.space_id)
        assert space.ticket is not None
        held = self._seat_holders(ticket.space_id)
        if ticket.buyer_id in held:
            raise BuyerHasTicket(held[ticket.buyer_id].id)
        if len(held) >= space.ticket.quantity:
            raise SoldOut("this Space is sold out")
        self.items[ticket.id] = ticket

    def attach_payment(self, ticket: Ticket, payment_intent_id: str) -> None:
        self.items[ticket.id] = self.items[ticket.id].model_copy(update={"payment_intent_id": payment_intent_id})

    def _move(self, ticket: Ticket, **changes: object) -> bool:
        if self.items.get(ticket.id, ticket).status != ticket.status:
            return False
        self.items[ticket.id] = ticket.model_copy(update=changes)
        return True

    def release(self, ticket: Ticket, to_status: ReleasedStatus, now: datetime, *,
                only_if_lapsed: bool = False) -> bool:
        if ticket.status != PENDING or (only_if_lapsed and not ticket.hold_lapsed(now)):
            return False
        return self._move(ticket, status=to_status, released_at=now)

    def open_holds(self, buyer_id: str) -> list[tuple[str, str]]:
        return [(t.space_id, t.id) for t in self.items.values() if t.buyer_id == buyer_id and t.status == PENDING]

    def mark_paid(self, ticket: Ticket, now: datetime, payment_intent_id: str | None = None, *,
                  received_cents: int | None = None) -> MarkPaid:
        if self.items.get(ticket.id, ticket).status != ticket.status:
            return "stale"
        self._move(ticket, status=PAID, paid_at=now, payment_intent_id=payment_intent_id or ticket.payment_intent_id)
        return "paid"

    def mark_refunded(self, ticket: Ticket, now: datetime, refund_id: str | None) -> bool:
        return self._move(ticket, status=REFUNDED, refunded_at=now, refund_id=refund_id)


class InMemoryPayouts:
    def __init__(self) -> None:
        self.accounts: dict[str, PayoutAccount] = {}
        self.customers: dict[str, str] = {}

    def get_account(self, user_id: str, *, consistent: bool = False) -> PayoutAccount | None:
        return self.accounts.get(user_id)

    def add_account(self, account: PayoutAccount) -> PayoutAccount:
        return self.accounts.setdefault(account.user_id, account)

    def account_owner(self, account_id: str) -> str | None:
        return next((u for u, a in self.accounts.items() if a.account_id == account_id), None)

    def apply_account_state(self, user_id: str, state: AccountState, synced_at: int) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account.synced_at > synced_at:
            return False
        self.accounts[user_id] = account.model_copy(update={"charges_enabled": state.charges_enabled,
                                                            "synced_at": synced_at})
        return True

    def get_customer(self, user_id: str) -> str | None:
        return self.customers.get(user_id)

    def add_customer(self, user_id: str, customer_id: str) -> str:
        return self.customers.setdefault(user_id, customer_id)

    def earnings(self, host_id: str, *, consistent: bool = True) -> Earnings:
        return Earnings()

    def ledger_page(self, host_id: str, page: PageRequest) -> Page[LedgerEntry]:
        return Page([], None)


@dataclass
class FakePayments:
    """Stripe as the services see it: refunds are idempotent by our key (``ticket:<id>:refund``);
    ``failing`` ticket ids answer 503 until removed."""

    refunds: dict[str, str] = field(default_factory=dict)  # idempotency key -> refund id
    refund_calls: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    @property
    def configured(self) -> bool:
        return True

    def ping(self) -> None:
        return None

    def create_express_account(self, user_id: str, *, email: str | None = None) -> AccountState:
        return AccountState(account_id=f"acct_{user_id}", user_id=user_id)

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        return f"https://connect.invalid/{account_id}"

    def create_customer(self, user_id: str) -> str:
        return f"cus_{user_id}"

    def create_ticket_payment(self, request: TicketPaymentRequest) -> PaymentSheet:
        return PaymentSheet(payment_intent_id=f"pi_{request.ticket_id}", client_secret="secret",
                            customer_id=request.customer_id, ephemeral_key=None, publishable_key="pk")

    def payment_sheet(self, payment_intent_id: str, customer_id: str) -> PaymentSheet:
        return PaymentSheet(payment_intent_id=payment_intent_id, client_secret="secret", customer_id=customer_id,
                            ephemeral_key=None, publishable_key="pk")

    def ticket_of_payment(self, payment_intent_id: str) -> TicketRef | None:
        return None

    def cancel_payment(self, *, ticket_id: str, payment_intent_id: str) -> None:
        self.canceled.append(ticket_id)

    def refund_payment(self, *, ticket_id: str, payment_intent_id: str, duplicate: bool = False) -> str | None:
        self.refund_calls.append(ticket_id)
        if ticket_id in self.failing:
            raise UpstreamUnavailable("Stripe is unavailable (refund the ticket); try again")
        key = f"ticket:{ticket_id}:refund" + (f":{payment_intent_id}" if duplicate else "")
        return self.refunds.setdefault(key, f"re_{len(self.refunds) + 1}")

    def verify_event(self, payload: bytes, signature: str | None) -> AnyPaymentEvent:
        raise NotImplementedError("webhooks are tested against the real adapter and stripe-mock")


def ticket(space: Space, buyer: str, *, status: TicketStatus = PENDING, now: datetime,
           hold: timedelta = timedelta(minutes=15), number: int = 0) -> Ticket:
    """A ticket to ``space`` as the service would have created it."""
    assert space.ticket is not None
    return Ticket(id=f"tk_{number:04d}_{buyer}", space_id=space.id, host_id=space.host_id, buyer_id=buyer,
                  status=status, amount_cents=space.ticket.price_cents, platform_fee_cents=30,
                  host_net_cents=space.ticket.price_cents - 30, currency=space.ticket.currency, fee_tier=0,
                  fee_rate_bps=300, payment_intent_id=f"pi_{buyer}", hold_expires_at=now + hold, created_at=now)
