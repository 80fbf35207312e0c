"""Ticket rules that need no Stripe: what a ticket offer may look like."""
from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

from chalicelib.domain.errors import field_error

PRICE_MIN_CENTS = 100
PRICE_MAX_CENTS = 99_900

# Stripe's minimum charge per currency, in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
# A ticket must cost at least max(PRICE_MIN_CENTS, Stripe's minimum) so every sale can be charged.
STRIPE_MINIMUM_MINOR_UNITS: dict[str, int] = {
    "usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "nzd": 50, "sgd": 50,
    "dkk": 250, "nok": 300, "sek": 300, "pln": 200, "czk": 1500, "hkd": 400, "mxn": 1000,
    "brl": 50, "inr": 50, "aed": 200,
}


def check_ticket_offer(price_cents: int, currency: str, quantity: int, *, max_quantity: int) -> str:
    """Validate a ticket offer; returns the normalised (lower-case) currency."""
    currency = currency.lower()
    if currency not in STRIPE_MINIMUM_MINOR_UNITS:
        raise field_error("ticket.currency", f"'{currency}' is not a supported currency")
    low = max(PRICE_MIN_CENTS, STRIPE_MINIMUM_MINOR_UNITS[currency])
    if not low <= price_cents <= PRICE_MAX_CENTS:
        raise field_error("ticket.price_cents", f"must be between {low} and {PRICE_MAX_CENTS}")
    if not 1 <= quantity <= max_quantity:
        raise field_error("ticket.quantity", f"must be between 1 and {max_quantity}")
    return currency


# -- tickets and payout accounts ---------------------------------------------------------------
# A ticket holds a seat while ``pending`` (until ``hold_expires_at``) and while ``paid``. It stops
# holding one when its hold lapses (``expired``), its payment fails or is canceled (``failed``,
# ``canceled``), or its money goes back (``refunded``). Only Stripe's signed webhook makes it paid.


TicketStatus = Literal["pending", "paid", "expired", "failed", "canceled", "refunded"]
PENDING: Final = "pending"
PAID: Final = "paid"
EXPIRED: Final = "expired"
FAILED: Final = "failed"
CANCELED: Final = "canceled"
REFUNDED: Final = "refunded"
ReleasedStatus = Literal["expired", "failed", "canceled"]
RELEASED_STATUSES: tuple[ReleasedStatus, ...] = (EXPIRED, FAILED, CANCELED)
TICKET_STATUSES: tuple[TicketStatus, ...] = (PENDING, PAID, *RELEASED_STATUSES, REFUNDED)


class Ticket(BaseModel):
    id: str
    space_id: str
    host_id: str
    buyer_id: str
    status: TicketStatus = PENDING
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    currency: str
    fee_tier: int = Field(description="0-based tier of the sale's last cent")
    fee_rate_bps: int
    fee_crosses_boundary: bool = False
    fee_parts: list[dict[str, int]] = Field(default_factory=list)
    payment_intent_id: str | None = None
    refund_id: str | None = None
    hold_expires_at: datetime
    created_at: datetime
    paid_at: datetime | None = None
    released_at: datetime | None = None
    refunded_at: datetime | None = None

    def holds_seat(self, now: datetime) -> bool:
        return self.status == PAID or (self.status == PENDING and now < self.hold_expires_at)

    def hold_lapsed(self, now: datetime) -> bool:
        return self.status == PENDING and now >= self.hold_expires_at


class PayoutAccount(BaseModel):
    """A creator's Stripe connected account and the state Stripe last told us about."""

    user_id: str
    account_id: str
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    synced_at: int = 0  # Stripe's ``created`` of the event (or read) that set this state
    created_at: datetime


class Earnings(BaseModel):
    """A creator's running totals, moved only in the same transaction as the ledger entry."""

    lifetime_gross_cents: int = 0
    platform_fee_cents: int = 0
    host_net_cents: int = 0
    tickets_sold: int = 0
    tickets_refunded: int = 0


class LedgerEntry(BaseModel):
    """One append-only line of a creator's ledger: a sale, or the refund of one."""

    kind: Literal["sale", "refund"]
    ticket_id: str
    space_id: str
    buyer_id: str
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    currency: str
    fee_tier: int
    at: datetime


class PaymentSheet(BaseModel):
    """What the mobile PaymentSheet needs to confirm a ticket's payment."""

    payment_intent_id: str
    client_secret: str
    customer_id: str
    ephemeral_key: str | None
    publishable_key: str


class BuyerHasTicket(Exception):
    """A buyer already holds a seat in this Space (``ticket_id`` is theirs): one ticket per buyer."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(ticket_id)
        self.ticket_id = ticket_id


class HoldLimit(Exception):
    """The buyer already holds ``limit`` unpaid seats (across Spaces)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit
