"""What the payment provider tells us, as plain values: no service reads Stripe's wire format.

The Stripe adapter verifies a webhook and translates it into one of these events; the webhook
service matches on the class. ``TicketRef`` is our own ids as we put them in the payment's
metadata; ``connected_account`` is set when the event came from a Connect endpoint (Stripe's
``account`` field).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TicketRef:
    space_id: str
    ticket_id: str


@dataclass(frozen=True)
class AccountState:
    """The few fields of a connected account we keep, and our user id from its metadata."""

    account_id: str
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    user_id: str | None = None


@dataclass(frozen=True)
class PaymentEvent:
    """Fields every event carries."""

    event_id: str
    type: str
    created: int  # Stripe's ``created`` (epoch seconds)
    connected_account: str | None  # the Connect account the event is about, if any


@dataclass(frozen=True)
class PaymentSucceeded(PaymentEvent):
    payment_intent_id: str
    ticket: TicketRef | None
    amount_received: int
    currency: str


@dataclass(frozen=True)
class PaymentEnded(PaymentEvent):
    """``payment_intent.payment_failed`` (``failed``) or ``payment_intent.canceled``."""

    payment_intent_id: str
    ticket: TicketRef | None
    failed: bool


@dataclass(frozen=True)
class ChargeRefunded(PaymentEvent):
    charge_id: str
    payment_intent_id: str | None
    ticket: TicketRef | None  # from the charge's metadata; None: look it up by the PaymentIntent
    refunded_in_full: bool
    amount_refunded: int
    currency: str
    refund_id: str | None


@dataclass(frozen=True)
class AccountUpdated(PaymentEvent):
    account: AccountState


@dataclass(frozen=True)
class OtherPaymentEvent(PaymentEvent):
    """A verified event of a type we do not act on, or one without the object we need."""

    reason: str = "ignored_type"


AnyPaymentEvent = PaymentSucceeded | PaymentEnded | ChargeRefunded | AccountUpdated | OtherPaymentEvent
