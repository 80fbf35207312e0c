"""Stripe's webhook: verify, dedupe, route to the use case.

The signature is checked on the raw body by the SDK (in the gateway). Each event id is claimed
once with a conditional put; if handling fails the claim is released so Stripe's retry runs it
again. Handlers are themselves order-proof (conditional state changes), so a duplicate that slips
past the claim, or events in any order, still change nothing twice.

Tickets are found by OUR ids in the PaymentIntent's metadata (``ticket_id``, ``space_id``), never by
Stripe's object ids.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.tickets import account_state
from chalicelib.ports import PaymentGateway, ProcessedEvents

from .payouts import PayoutService
from .tickets import TicketService

log = logging.getLogger(__name__)

EVENT_TTL_SECONDS = 30 * 24 * 3600  # Stripe retries for up to three days; keep well past that
SOURCE = "stripe"


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    outcome: str


@dataclass
class StripeWebhooks:
    events: ProcessedEvents
    gateway: Callable[[], PaymentGateway]
    tickets: TicketService
    payouts: PayoutService

    def receive(self, payload: bytes, signature: str | None) -> WebhookResult:
        event = self.gateway().verify_event(payload, signature)
        event_id, kind = str(event.get("id") or ""), str(event.get("type") or "")
        if not event_id:
            return WebhookResult(event_id, kind, "ignored_no_id")
        if not self.events.claim(SOURCE, event_id, now=int(time.time()), ttl_seconds=EVENT_TTL_SECONDS):
            return WebhookResult(event_id, kind, "duplicate")
        try:
            outcome = self._route(kind, event)
        except BaseException:
            self.events.release(SOURCE, event_id)
            raise
        log.info("stripe event %s %s: %s", event_id, kind, outcome)
        return WebhookResult(event_id, kind, outcome)

    def _route(self, kind: str, event: dict[str, Any]) -> str:
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            return "ignored_no_object"
        if kind == "payment_intent.succeeded":
            ref = _ticket_ref(obj.get("metadata"))
            return self.tickets.payment_succeeded(*ref, str(obj.get("id"))) if ref else "ignored_not_ours"
        if kind in ("payment_intent.payment_failed", "payment_intent.canceled"):
            ref = _ticket_ref(obj.get("metadata"))
            return self.tickets.payment_ended(*ref, failed=kind.endswith("failed")) if ref else "ignored_not_ours"
        if kind == "charge.refunded":
            return self._charge_refunded(obj)
        if kind == "account.updated":
            created = event.get("created")
            applied = self.payouts.account_updated(account_state(obj), created if isinstance(created, int) else 0)
            return "account_updated" if applied else "ignored_stale_or_unknown"
        return "ignored_type"

    def _charge_refunded(self, charge: dict[str, Any]) -> str:
        """Only a full refund makes a ticket ``refunded``; a partial one leaves it paid."""
        if not charge.get("refunded"):
            return "ignored_partial_refund"
        ref = _ticket_ref(charge.get("metadata"))
        if ref is None and charge.get("payment_intent"):
            ref = _ticket_ref(self.gateway().payment_metadata(str(charge["payment_intent"])))
        if ref is None:
            return "ignored_not_ours"
        refunds = charge.get("refunds")
        listed = refunds.get("data") if isinstance(refunds, dict) else None
        refund_id = listed[0].get("id") if isinstance(listed, list) and listed and isinstance(listed[0], dict) else None
        return self.tickets.refunded(*ref, refund_id)


def _ticket_ref(metadata: Any) -> tuple[str, str] | None:
    if not isinstance(metadata, dict):
        return None
    space_id, ticket_id = metadata.get("space_id"), metadata.get("ticket_id")
    if isinstance(space_id, str) and isinstance(ticket_id, str) and space_id and ticket_id:
        return space_id, ticket_id
    return None
