"""Selling tickets: hold a seat, price it, open a Stripe payment; and every later step of a
ticket's life (paid, released, refunded), whichever path it comes from (webhook, hold expiry,
a canceled Space).

Money moves only through idempotent, verified paths: a ticket becomes ``paid`` only from Stripe's
signed webhook, each Stripe write carries a key made from our ticket id, and each state change is
a conditional transaction in the repository, so a retry or a duplicate changes nothing twice.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import (
    AirwavesError,
    AlreadyExists,
    Banned,
    Forbidden,
    InvalidState,
    NotEligible,
    RateLimited,
    SoldOut,
    UpstreamUnavailable,
)
from chalicelib.domain.fees import FeeSchedule
from chalicelib.domain.jobs import RefundsPage
from chalicelib.domain.pages import Page, PageRequest, Position
from chalicelib.domain.payments import PaymentMismatch
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.domain.telemetry import RefundReason
from chalicelib.domain.tickets import (
    CANCELED,
    EXPIRED,
    FAILED,
    PAID,
    PENDING,
    REFUNDED,
    BuyerHasTicket,
    HoldLimit,
    PaymentSheet,
    Ticket,
)
from chalicelib.ports import (
    MemberRepository,
    Metrics,
    PaymentGateway,
    PayoutRepository,
    ProcessedEvents,
    RateLimiter,
    SpaceRepository,
    TicketPaymentRequest,
    TicketRepository,
    UserRepository,
    WorkQueue,
)
from chalicelib.services.idempotency import ClaimLease
from chalicelib.services.lifecycle import QuietParticipant

log = logging.getLogger(__name__)

_RETRIES = 4
REFUND_CLAIMS = "ticket-refund"  # the claims' source in ``ProcessedEvents``: one per refunded ticket
REFUND_CLAIM_TTL_SECONDS = 30 * 24 * 3600  # a refunded ticket never becomes paid again


def new_ticket_id() -> str:
    return "tk_" + uuid.uuid4().hex[:24]


@dataclass(frozen=True)
class Purchase:
    ticket: Ticket
    sheet: PaymentSheet
    created: bool


@dataclass
class TicketService:
    spaces: SpaceRepository
    tickets: TicketRepository
    payouts: PayoutRepository
    gateway: PaymentGateway
    fees: FeeSchedule
    hold: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = field(default=utcnow)
    members: MemberRepository | None = None  # who was removed (banned) from a Space
    users: UserRepository | None = None  # an unpaid hold needs a profile
    limits: RateLimiter | None = None
    holds_per_hour: int = 10  # new unpaid holds a person may take an hour
    refund_claims: ProcessedEvents | None = None  # one refund page at a time asks Stripe for a ticket
    refund_lease: ClaimLease = field(default_factory=lambda: ClaimLease(60))
    metrics: Metrics | None = field(default=None, kw_only=True)

    # -- buying ----------------------------------------------------------------------------------
    def buy(self, buyer_id: str, space_id: str) -> Purchase:
        """Hold a seat and open the payment. A buyer who already holds a pending ticket gets it
        back with a fresh payment sheet (the app may have lost it); a paid one is a 409."""
        space = self.spaces.require(space_id)
        if space.role_of(buyer_id) != "listener":
            raise Forbidden("hosts, co-hosts and speakers join without a ticket")
        if self.members is not None:
            member = self.members.get(space_id, buyer_id, consistent=True)
            if member is not None and member.banned:  # join would refuse them: sell nothing
                raise Banned("you were removed from this Space")
        if space.ticket is None:
            raise InvalidState("this Space is free: no ticket is needed", details={"ticketed": False})
        if space.state not in (SpaceState.scheduled, SpaceState.live):
            raise InvalidState(f"tickets are not sold for a Space that is {space.state.value}",
                               details={"state": space.state.value})
        if self.users is not None and self.users.get(buyer_id) is None:
            raise NotEligible("you need a profile before buying a ticket", details={"reasons": ["no_profile"]})
        account = self.payouts.get_account(space.host_id)
        if account is None or not account.charges_enabled:
            raise InvalidState("the host cannot take payments right now",
                               details={"reason": "host_charges_not_enabled"})
        for _ in range(_RETRIES):
            existing = self.tickets.buyer_ticket(space_id, buyer_id)
            if existing is not None:
                resumed = self._resume(existing, space, account.account_id)
                if resumed is not None:
                    return resumed
                continue
            self._take_hold_slot(buyer_id)
            ticket = self._new_ticket(space, buyer_id)
            try:
                self._hold(ticket)
            except _Taken:
                continue
            return Purchase(*self._open_payment(ticket, space, account.account_id), created=True)
        raise UpstreamUnavailable("too many concurrent changes to your ticket; try again")

    def _new_ticket(self, space: Space, buyer_id: str) -> Ticket:
        assert space.ticket is not None
        earnings = self.payouts.earnings(space.host_id)
        quote = self.fees.quote(space.ticket.price_cents, earnings.lifetime_gross_cents)
        now = self.clock()
        return Ticket(
            id=new_ticket_id(), space_id=space.id, host_id=space.host_id, buyer_id=buyer_id,
            amount_cents=quote.amount_cents, platform_fee_cents=quote.platform_fee_cents,
            host_net_cents=quote.host_net_cents, currency=space.ticket.currency, fee_tier=quote.tier,
            fee_rate_bps=quote.rate_bps, fee_crosses_boundary=quote.crosses_boundary,
            fee_parts=[{"tier": p.tier, "amount_cents": p.amount_cents, "rate_bps": p.rate_bps} for p in quote.parts],
            hold_expires_at=now + self.hold, created_at=now,
        )

    def _hold(self, ticket: Ticket) -> None:
        """Take a seat; when full, release lapsed holds (each once) and try again. When the
        buyer is at the open-holds cap, their own lapsed holds are released first."""
        while True:
            try:
                self.tickets.hold_seat(ticket)
                return
            except BuyerHasTicket as exc:
                raise _Taken() from exc
            except SoldOut:
                if not self.release_lapsed(ticket.space_id):
                    raise
            except HoldLimit as exc:
                if not self._release_buyers_lapsed(ticket.buyer_id):
                    raise InvalidState(f"you already hold {exc.limit} unpaid seats: pay or let one go first",
                                       details={"reason": "open_holds_limit", "limit": exc.limit}) from exc

    def _release_buyers_lapsed(self, buyer_id: str) -> int:
        now = self.clock()
        held = [self.tickets.get(s, t) for s, t in self.tickets.open_holds(buyer_id)]
        return sum(self._release_lapsed_one(t) for t in held if t is not None and t.hold_lapsed(now))

    def _take_hold_slot(self, buyer_id: str) -> None:
        if self.limits is None:
            return
        now = int(self.clock().timestamp())
        window = now - now % 3600
        if not self.limits.take(f"holds#{buyer_id}", window_start=window, window_seconds=3600,
                                limit=self.holds_per_hour):
            raise RateLimited(f"at most {self.holds_per_hour} new ticket holds an hour",
                              details={"limit": self.holds_per_hour, "window_seconds": 3600,
                                       "retry_after_seconds": max(1, window + 3600 - now)})

    def _open_payment(self, ticket: Ticket, space: Space, destination: str) -> tuple[Ticket, PaymentSheet]:
        """Create (or, with the same key, find again) the PaymentIntent; if Stripe cannot be
        reached the seat goes back at once rather than at the hold's expiry. If the PaymentIntent
        was made but could not be recorded on the ticket, it is canceled too (nobody got its
        secret, and a released ticket's payment must never go through)."""
        sheet = None
        try:
            customer = self._customer(ticket.buyer_id)
            sheet = self.gateway.create_ticket_payment(TicketPaymentRequest(
                ticket_id=ticket.id, space_id=ticket.space_id, buyer_id=ticket.buyer_id, host_id=ticket.host_id,
                amount_cents=ticket.amount_cents, currency=ticket.currency,
                platform_fee_cents=ticket.platform_fee_cents, destination=destination, customer_id=customer,
                description=f"Ticket to {space.title}"))
            self.tickets.attach_payment(ticket, sheet.payment_intent_id)
        except AirwavesError:
            if self.tickets.release(ticket, FAILED, self.clock()) and sheet is not None:
                self._cancel_quietly(ticket.model_copy(update={"payment_intent_id": sheet.payment_intent_id}))
            raise
        return ticket.model_copy(update={"payment_intent_id": sheet.payment_intent_id}), sheet

    def _resume(self, existing: Ticket, space: Space, destination: str) -> Purchase | None:
        """The buyer's current ticket as a purchase, or None once a lapsed one is released."""
        if existing.status == PAID:
            raise AlreadyExists("you already hold a paid ticket to this Space",
                                details={"ticket_id": existing.id})
        if existing.status != PENDING:
            return None  # the claim moved on meanwhile; look again
        if existing.hold_lapsed(self.clock()):
            self._release_lapsed_one(existing)
            return None
        if existing.payment_intent_id is None:  # another request is opening it; same key, same intent
            return Purchase(*self._open_payment(existing, space, destination), created=False)
        sheet = self.gateway.payment_sheet(existing.payment_intent_id, self._customer(existing.buyer_id))
        return Purchase(existing, sheet, False)

    def _customer(self, user_id: str) -> str:
        return (self.payouts.get_customer(user_id)
                or self.payouts.add_customer(user_id, self.gateway.create_customer(user_id)))

    # -- holds -----------------------------------------------------------------------------------
    def release_lapsed(self, space_id: str) -> int:
        """Give back the seats of holds that ran out; returns how many this call released."""
        return sum(self._release_lapsed_one(t) for t in self.tickets.lapsed_holds(space_id, self.clock()))

    def _release_lapsed_one(self, ticket: Ticket) -> bool:
        if not self.tickets.release(ticket, EXPIRED, self.clock(), only_if_lapsed=True):
            return False
        self._cancel_quietly(ticket)
        return True

    def _cancel_quietly(self, ticket: Ticket) -> None:
        """Cancel the PaymentIntent of a released seat. If that fails (or it already succeeded),
        a later ``payment_intent.succeeded`` takes the seat back or refunds: never lost money."""
        if not ticket.payment_intent_id:
            return
        try:
            self.gateway.cancel_payment(ticket_id=ticket.id, payment_intent_id=ticket.payment_intent_id)
        except AirwavesError as exc:
            log.warning("could not cancel payment of released ticket %s: %s", ticket.id, exc.message)

    # -- reads -----------------------------------------------------------------------------------
    def mine(self, buyer_id: str, page: PageRequest) -> Page[Ticket]:
        return self.tickets.buyer_page(buyer_id, page)

    # -- what Stripe tells us (webhooks) ---------------------------------------------------------
    # Each event must match the ticket it names: its PaymentIntent is the one stored on the ticket
    # (and, for a success, the amount received and the currency are the ticket's). Otherwise
    # ``PaymentMismatch`` is raised before anything moves; the webhook records it for ops.
    def _matching(self, space_id: str, ticket_id: str, payment_intent_id: str | None) -> Ticket:
        ticket = self.tickets.get(space_id, ticket_id)
        if ticket is None:
            raise PaymentMismatch("unknown_ticket", payment_intent_id=payment_intent_id)
        if not payment_intent_id or ticket.payment_intent_id != payment_intent_id:
            raise PaymentMismatch("payment_intent_mismatch", expected=ticket.payment_intent_id,
                                  received=payment_intent_id)
        return ticket

    def payment_succeeded(self, space_id: str, ticket_id: str, payment_intent_id: str, *,
                          amount_received: int, currency: str) -> str:
        """Make the ticket paid, booking what Stripe received. If its seat is gone (hold lapsed
        and the Space is full, or the Space was canceled or ended) the payment is refunded
        instead. Returns what happened."""
        for _ in range(_RETRIES):
            ticket = self._matching(space_id, ticket_id, payment_intent_id)
            if amount_received != ticket.amount_cents or currency.lower() != ticket.currency:
                raise PaymentMismatch("amount_mismatch", expected_amount=ticket.amount_cents,
                                      received_amount=amount_received, expected_currency=ticket.currency,
                                      received_currency=currency.lower())
            if ticket.status in (PAID, REFUNDED):
                return "already_" + ticket.status
            outcome = self.tickets.mark_paid(ticket, self.clock(), payment_intent_id, received_cents=amount_received)
            if outcome == "paid":
                if self.metrics is not None:
                    self.metrics.ticket_sold(ticket.currency)
                return "paid"
            if outcome == "stale":
                continue
            if ticket.status == PENDING and not self.tickets.release(ticket, CANCELED, self.clock()):
                continue
            self._refund_unseated(space_id, ticket_id, payment_intent_id)
            return "refunded_no_seat"
        raise UpstreamUnavailable("the ticket kept changing; Stripe will retry")

    def payment_ended(self, space_id: str, ticket_id: str, payment_intent_id: str, *, failed: bool) -> str:
        """``payment_failed`` / ``canceled``: a pending ticket gives its seat back. A paid ticket
        stays paid (a late or out-of-order failure never un-pays)."""
        ticket = self._matching(space_id, ticket_id, payment_intent_id)
        if ticket.status != PENDING:
            return "ignored_" + ticket.status
        released = self.tickets.release(ticket, FAILED if failed else CANCELED, self.clock())
        return "released" if released else "ignored_changed"

    def charge_refunded(self, space_id: str, ticket_id: str, payment_intent_id: str | None,
                        refund_id: str | None, *, currency: str) -> str:
        """``charge.refunded`` (in full) of the ticket's own PaymentIntent: the ticket is refunded."""
        ticket = self._matching(space_id, ticket_id, payment_intent_id)
        if currency and currency.lower() != ticket.currency:
            raise PaymentMismatch("currency_mismatch", expected_currency=ticket.currency,
                                  received_currency=currency.lower())
        return self.refunded(space_id, ticket_id, refund_id, reason="payment_refunded")

    def refunded(self, space_id: str, ticket_id: str, refund_id: str | None, *, reason: RefundReason) -> str:
        """The ticket's money went back (our own refund, or a matched ``charge.refunded``): the
        ticket is refunded, from whatever state it was in."""
        for _ in range(_RETRIES):
            ticket = self.tickets.get(space_id, ticket_id)
            if ticket is None:
                return "unknown_ticket"
            if ticket.status == REFUNDED:
                return "already_refunded"
            if self.tickets.mark_refunded(ticket, self.clock(), refund_id):
                self._count_refund(reason)
                return "refunded"
        raise UpstreamUnavailable("the ticket kept changing; Stripe will retry")

    def _refund_unseated(self, space_id: str, ticket_id: str, payment_intent_id: str) -> None:
        refund_id = self.gateway.refund_payment(ticket_id=ticket_id, payment_intent_id=payment_intent_id)
        self.refunded(space_id, ticket_id, refund_id, reason="no_seat")

    def _count_refund(self, reason: RefundReason) -> None:
        if self.metrics is not None:
            self.metrics.ticket_refunded(reason)

    # -- a canceled Space --------------------------------------------------------------------------
    def refund_page(self, space_id: str, page: PageRequest) -> Position:
        """Refund one page (``page.limit`` tickets read) of a canceled Space: each paid ticket exactly
        once, each pending hold released. Returns where the next page starts (None: all done).

        Safe to run again and again, and at the same time: a ticket already refunded is no longer
        ``paid`` so it is not looked at; two pages running at once (a duplicate delivery, a retried
        cancel) take turns on each ticket through its refund claim, so Stripe is asked once; and
        Stripe's key ``ticket:<id>:refund`` turns a repeated refund call (after a crash between
        Stripe and our write) into the same refund. A failure (or a ticket another page is still
        refunding) does not stop the rest of the page; if any remain, ``UpstreamUnavailable``
        leaves the page's queue message to be retried (then dead-lettered), and the retry resumes
        with what is still ``paid``."""
        space = self.spaces.get(space_id, consistent=True)
        if space is None or space.ticket is None or space.state is not SpaceState.canceled:
            return None
        tickets = self.tickets.space_tickets_page(space_id, (PENDING, PAID), page)
        failed = []
        for ticket in tickets.items:
            if ticket.status == PENDING:
                if self.tickets.release(ticket, CANCELED, self.clock()):
                    self._cancel_quietly(ticket)
                continue
            try:
                if not self._refund_claimed(ticket):
                    failed.append(ticket.id)
            except AirwavesError as exc:
                log.warning("refund of ticket %s failed: %s", ticket.id, exc.message)
                failed.append(ticket.id)
        if failed:
            raise UpstreamUnavailable(
                f"{len(failed)} ticket refund(s) of canceled Space {space_id} could not be made yet",
                details={"pending_refunds": len(failed)})
        return tickets.next

    def _refund_claimed(self, ticket: Ticket) -> bool:
        """Refund a paid ticket of a canceled Space and book it, holding the ticket's refund claim
        meanwhile. False when another page holds the claim (it is refunding this ticket now); a
        failure releases the claim, a crash leaves it to run out (``refund_lease``)."""
        claims = self.refund_claims
        now = int(self.clock().timestamp())
        if claims is not None:
            claim = claims.claim(REFUND_CLAIMS, ticket.id, now=now, lease_until=self.refund_lease.until(now))
            if claim != "claimed":
                return claim == "done"  # done: another page refunded it after this page read it
        try:
            refund_id = self.gateway.refund_payment(ticket_id=ticket.id,
                                                    payment_intent_id=ticket.payment_intent_id or "")
            if self.tickets.mark_refunded(ticket, self.clock(), refund_id):  # False: a webhook booked it first
                self._count_refund("space_canceled")
        except BaseException:
            if claims is not None:
                claims.release(REFUND_CLAIMS, ticket.id)
            raise
        if claims is not None:
            try:
                claims.complete(REFUND_CLAIMS, ticket.id, expires_at=now + REFUND_CLAIM_TTL_SECONDS)
            except AirwavesError as exc:  # refunded and booked all the same: the ticket is no longer paid
                log.warning("could not record the refund claim of ticket %s as done: %s", ticket.id, exc.message)
        return True


class _Taken(Exception):
    """The buyer's claim was taken by a concurrent request; look at it again."""


class TicketRefunds(QuietParticipant):
    """The money part of a Space's lifecycle: canceling a ticketed Space queues its refunds.

    The cancel request only puts one ``RefundsPage`` on the work queue, so it answers at once
    however many tickets were sold; the queue's consumer refunds a page per message and queues
    the next. A cancel that is retried (or the no-show cancel) queues it again: harmless, as a
    page only refunds what is still ``paid``. If the queue refuses the message the cancel fails
    (503) so its retry queues the refunds; the Space is canceled either way."""

    def __init__(self, queue: WorkQueue) -> None:
        self._queue = queue

    def after_cancel(self, space: Space) -> None:
        if space.ticket is not None:
            self._queue.send([RefundsPage(space_id=space.id)])
