"""Stripe's webhook: verify, dedupe, route to the use case.

The signature is checked on the raw body by the SDK, and the event translated into our types,
in the gateway (``adapters/stripe.py``): nothing here reads Stripe's wire format. Each event id is
claimed with a conditional put holding a short lease (``ClaimLease``), and recorded done once
handled. If handling fails the claim is released so Stripe's retry runs it again; if the process
dies first (a timeout, a kill) the lease runs out and the retry runs it again. A delivery that
finds a live lease answers 409 so Stripe retries later. Handlers are themselves order-proof
(conditional state changes), so a re-run, a duplicate, or events in any order change nothing twice.

Tickets are found by OUR ids in the PaymentIntent's metadata, and then the event must match the
ticket: its PaymentIntent is the one stored on the ticket, and a success received the ticket's
amount in its currency. Events verified with the Connect endpoint's secret are accepted only for
Connect's own event types (our ticket charges are made on the platform). Anything that does not
match is recorded for ops (``PaymentAnomalies``) and changes nothing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from chalicelib.domain.errors import AirwavesError, Conflict
from chalicelib.domain.payments import (
    CONNECT,
    CONNECT_EVENT_TYPES,
    AccountUpdated,
    AnyPaymentEvent,
    ChargeRefunded,
    OtherPaymentEvent,
    PaymentAnomaly,
    PaymentEnded,
    PaymentMismatch,
    PaymentSucceeded,
    TicketRef,
)
from chalicelib.domain.telemetry import WebhookSource
from chalicelib.faults import kill_point
from chalicelib.ports import EventLog, HandledEvent, PaymentAnomalies, PaymentGateway, ProcessedEvents
from chalicelib.services.idempotency import ClaimLease
from chalicelib.services.payouts import PayoutService
from chalicelib.services.tickets import TicketService

log = logging.getLogger(__name__)

EVENT_TTL_SECONDS = 30 * 24 * 3600  # Stripe retries for up to three days; keep well past that
SOURCE: WebhookSource = "stripe"


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    outcome: str


@dataclass
class StripeWebhooks:
    processed: ProcessedEvents
    gateway: PaymentGateway
    tickets: TicketService
    payouts: PayoutService
    anomalies: PaymentAnomalies
    lease: ClaimLease = field(default_factory=lambda: ClaimLease(60))
    events: EventLog = field(kw_only=True)

    def receive(self, payload: bytes, signature: str | None) -> WebhookResult:
        """One delivery, logged as one event under its Stripe event id (once its signature holds)."""
        with self.events.handling(SOURCE) as handled:
            event = self.gateway.verify_event(payload, signature)
            result = self._receive(event, handled)
            handled.outcome(result.outcome)
            return result

    def _receive(self, event: AnyPaymentEvent, handled: HandledEvent) -> WebhookResult:
        handled.of_kind(event.type)
        if not event.event_id:
            return WebhookResult(event.event_id, event.type, "ignored_no_id")
        handled.identify(event.event_id)
        now = int(time.time())
        claim = self.processed.claim(SOURCE, event.event_id, now=now, lease_until=self.lease.until(now))
        if claim == "done":
            return WebhookResult(event.event_id, event.type, "duplicate")
        if claim == "in_progress":
            raise Conflict("this event is being handled by another delivery; retry later",
                           details={"event_id": event.event_id}, code="in_progress")
        kill_point("webhook.claimed")
        try:
            outcome = self._route(event)
        except BaseException:
            self.processed.release(SOURCE, event.event_id)
            raise
        kill_point("webhook.handled")
        try:
            self.processed.complete(SOURCE, event.event_id, expires_at=int(time.time()) + EVENT_TTL_SECONDS)
        except AirwavesError as exc:  # handled all the same; a redelivery after the lease re-runs harmlessly
            log.warning("could not record stripe event %s as done: %s", event.event_id, exc.message)
        return WebhookResult(event.event_id, event.type, outcome)

    def _route(self, event: AnyPaymentEvent) -> str:
        try:
            return self._handle(event)
        except PaymentMismatch as mismatch:
            ref = _ticket_of(event)
            self._record(event, mismatch.reason, ref, **mismatch.details)
            return "mismatch_" + mismatch.reason

    def _handle(self, event: AnyPaymentEvent) -> str:
        if event.endpoint == CONNECT and event.type not in CONNECT_EVENT_TYPES:
            raise PaymentMismatch("not_a_connect_event", connected_account=event.connected_account)
        match event:
            case PaymentSucceeded(ticket=None) | PaymentEnded(ticket=None):
                return "ignored_not_ours"
            case PaymentSucceeded(ticket=ticket) if ticket is not None:
                return self.tickets.payment_succeeded(ticket.space_id, ticket.ticket_id, event.payment_intent_id,
                                                      amount_received=event.amount_received, currency=event.currency)
            case PaymentEnded(ticket=ticket) if ticket is not None:
                return self.tickets.payment_ended(ticket.space_id, ticket.ticket_id, event.payment_intent_id,
                                                  failed=event.failed)
            case ChargeRefunded():
                return self._charge_refunded(event)
            case AccountUpdated():
                if event.connected_account and event.connected_account != event.account.account_id:
                    raise PaymentMismatch("connect_account_mismatch", connected_account=event.connected_account,
                                          account=event.account.account_id)
                applied = self.payouts.account_updated(event.account, event.created)
                return "account_updated" if applied else "ignored_stale_or_unknown"
            case OtherPaymentEvent():
                return event.reason
        return "ignored_type"

    def _charge_refunded(self, charge: ChargeRefunded) -> str:
        """Only a full refund of the ticket's own PaymentIntent makes it ``refunded``; a partial
        one leaves it paid."""
        if not charge.refunded_in_full:
            return "ignored_partial_refund"
        ref = charge.ticket
        if ref is None and charge.payment_intent_id:
            ref = self.gateway.ticket_of_payment(charge.payment_intent_id)
        if ref is None:
            return "ignored_not_ours"
        return self.tickets.charge_refunded(ref.space_id, ref.ticket_id, charge.payment_intent_id, charge.refund_id,
                                            currency=charge.currency)

    def _record(self, event: AnyPaymentEvent, reason: str, ref: TicketRef | None,
                **details: str | int | None) -> None:
        log.warning("stripe event %s %s does not match (%s): %s", event.event_id, event.type, reason, details)
        self.anomalies.record(PaymentAnomaly(
            event_id=event.event_id, type=event.type, endpoint=event.endpoint, reason=reason, at=int(time.time()),
            space_id=ref.space_id if ref else None, ticket_id=ref.ticket_id if ref else None, details=details))


def _ticket_of(event: AnyPaymentEvent) -> TicketRef | None:
    match event:
        case PaymentSucceeded(ticket=ref) | PaymentEnded(ticket=ref) | ChargeRefunded(ticket=ref):
            return ref
    return None
