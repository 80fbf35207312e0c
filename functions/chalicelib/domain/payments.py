"""What the payment provider tells us, as plain values: no service reads Stripe's wire format.

The Stripe adapter verifies a webhook and translates it into one of these events; the webhook
service matches on the class. ``TicketRef`` is our own ids as we put them in the payment's
metadata; ``connected_account`` is set when the event came from a Connect endpoint (Stripe's
``account`` field).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Endpoint = Literal["platform", "connect"]
PLATFORM: Final = "platform"
CONNECT: Final = "connect"

# What may arrive on the Connect endpoint: events about connected accounts themselves. Our
# ticket payments are destination charges made on the platform, so their PaymentIntent and
# charge events come to the platform endpoint only; on the Connect endpoint they are refused.
CONNECT_EVENT_TYPES: frozenset[str] = frozenset({
    "account.updated", "account.application.authorized", "account.application.deauthorized",
    "account.external_account.created", "account.external_account.updated",
    "account.external_account.deleted", "capability.updated", "person.created", "person.updated",
    "person.deleted", "payout.created", "payout.paid", "payout.failed", "payout.canceled",
    "payout.updated",
})


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
    endpoint: Endpoint  # whose secret verified it: the platform endpoint's or the Connect one's


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


@dataclass(frozen=True)
class PaymentAnomaly:
    """A verified event that did not match what we hold, kept for ops; it changed nothing."""

    event_id: str
    type: str
    endpoint: Endpoint
    reason: str  # machine-readable: "payment_intent_mismatch", "amount_mismatch", ...
    at: int  # when we received it (epoch seconds)
    space_id: str | None = None
    ticket_id: str | None = None
    details: dict[str, str | int | None] = field(default_factory=dict)


class PaymentMismatch(Exception):
    """A verified event names one of our tickets but does not match it (another PaymentIntent,
    another amount or currency...): nothing moves, and the webhook records it for ops."""

    def __init__(self, reason: str, **details: str | int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


AnyPaymentEvent = PaymentSucceeded | PaymentEnded | ChargeRefunded | AccountUpdated | OtherPaymentEvent
