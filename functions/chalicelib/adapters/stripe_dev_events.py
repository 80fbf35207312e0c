"""``DevPaymentEvents`` for the local stage: the ``payment_intent.succeeded`` event Stripe would
send once a ticket's PaymentIntent is paid, in Stripe's wire format and signed exactly as Stripe
signs (``Stripe-Signature: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">`` with the platform endpoint's
webhook secret), so the real webhook code verifies and handles it. stripe-mock never sends
webhooks; this is how a local buyer's payment completes."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable

from chalicelib.domain.errors import InvalidState, UpstreamUnavailable
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import SecretReader, SignedEvent


class StripeDevEvents:
    def __init__(self, secrets: SecretReader, *, clock: Callable[[], float] = time.time) -> None:
        self._secrets = secrets
        self._clock = clock

    def payment_succeeded(self, ticket: Ticket) -> SignedEvent:
        if not ticket.payment_intent_id:
            raise InvalidState("this ticket has no payment to complete yet")
        secret = self._secrets.get_secret("stripe_webhook_secret")
        if not secret:
            raise UpstreamUnavailable("Stripe webhooks are not configured in this stage")
        now = int(self._clock())
        event = {
            "id": f"evt_dev_{uuid.uuid4().hex}", "object": "event", "api_version": "2024-06-20",
            "created": now, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "payment_intent.succeeded",
            "data": {"object": {
                "id": ticket.payment_intent_id, "object": "payment_intent", "amount": ticket.amount_cents,
                "amount_received": ticket.amount_cents, "currency": ticket.currency, "status": "succeeded",
                "metadata": {"ticket_id": ticket.id, "space_id": ticket.space_id}}},
        }
        payload = json.dumps(event).encode()
        mac = hmac.new(secret.encode(), f"{now}.".encode() + payload, hashlib.sha256).hexdigest()
        return SignedEvent(payload=payload, signature=f"t={now},v1={mac}")
