"""Request and response models for payouts, tickets and Stripe's webhook (``API.md``: Tickets and
payouts). Field names in the contract are fixed; the rest is documented here for the OpenAPI spec."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chalicelib.api.schemas import Out, Query
from chalicelib.domain.tickets import LedgerEntry, Ticket, TicketStatus

if TYPE_CHECKING:  # only for the `.of` constructors; keeps the services off the cold path
    from chalicelib.services.payouts import PayoutStatus
    from chalicelib.services.tickets import Purchase


class OnboardingOut(Out):
    account_id: str = Field(description="the creator's Stripe connected account (Express)")
    onboarding_url: str = Field(description="open in a browser to finish onboarding; single use, expires in minutes")


class LedgerLineOut(Out):
    kind: Literal["sale", "refund"]
    ticket_id: str
    space_id: str
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    currency: str
    fee_tier: int
    at: datetime

    @classmethod
    def of(cls, e: LedgerEntry) -> LedgerLineOut:
        return cls(kind=e.kind, ticket_id=e.ticket_id, space_id=e.space_id, amount_cents=e.amount_cents,
                   platform_fee_cents=e.platform_fee_cents, host_net_cents=e.host_net_cents,
                   currency=e.currency, fee_tier=e.fee_tier, at=e.at)


class PayoutsOut(Out):
    account_id: str | None = Field(description="null until onboarding starts")
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    lifetime_gross_cents: int = Field(description="paid ticket sales minus refunds, all time; drives the fee tier")
    platform_fee_cents: int
    host_net_cents: int
    tickets_sold: int
    tickets_refunded: int
    fee_percent: float = Field(description="the platform fee rate on the next cent sold, e.g. 3.0 or 20.0")
    fee_tier: int = Field(description="0-based tier the creator is in now")
    next_tier_at_cents: int | None = Field(description="lifetime gross where the next tier starts (null: top tier)")
    sales: list[LedgerLineOut] = Field(description="what was sold (and refunded), newest first")
    next_cursor: str | None

    @classmethod
    def of(cls, status: PayoutStatus, *, next_cursor: str | None) -> PayoutsOut:
        a, e = status.account, status.earnings
        return cls(
            account_id=a.account_id if a else None, charges_enabled=bool(a and a.charges_enabled),
            payouts_enabled=bool(a and a.payouts_enabled), details_submitted=bool(a and a.details_submitted),
            lifetime_gross_cents=e.lifetime_gross_cents, platform_fee_cents=e.platform_fee_cents,
            host_net_cents=e.host_net_cents, tickets_sold=e.tickets_sold, tickets_refunded=e.tickets_refunded,
            fee_percent=status.fee_percent, fee_tier=status.fee_tier, next_tier_at_cents=status.next_tier_at_cents,
            sales=[LedgerLineOut.of(x) for x in status.recent.items], next_cursor=next_cursor)


class PayoutsQuery(Query):
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=100)


class TicketPurchaseOut(Out):
    """A pending ticket and what the mobile PaymentSheet needs to pay for it."""

    ticket_id: str
    space_id: str
    status: TicketStatus
    client_secret: str = Field(description="the PaymentIntent's client secret (PaymentSheet)")
    payment_intent_id: str
    customer_id: str = Field(description="the buyer's Stripe customer (PaymentSheet `customer`)")
    ephemeral_key: str | None = Field(description="ephemeral key secret for the customer (PaymentSheet); "
                                      "null only if the payment provider returned none (local stripe-mock)")
    publishable_key: str
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    currency: str
    fee_tier: int
    hold_expires_at: datetime = Field(description="the seat is released if the payment has not succeeded by then")

    @classmethod
    def of(cls, purchase: Purchase) -> TicketPurchaseOut:
        t, s = purchase.ticket, purchase.sheet
        return cls(
            ticket_id=t.id, space_id=t.space_id, status=t.status, client_secret=s.client_secret,
            payment_intent_id=s.payment_intent_id, customer_id=s.customer_id, ephemeral_key=s.ephemeral_key,
            publishable_key=s.publishable_key, amount_cents=t.amount_cents, platform_fee_cents=t.platform_fee_cents,
            host_net_cents=t.host_net_cents, currency=t.currency, fee_tier=t.fee_tier,
            hold_expires_at=t.hold_expires_at)


class BuyerTicketOut(Out):
    ticket_id: str
    space_id: str
    status: TicketStatus = Field(description="a pending ticket whose hold ran out shows as `expired` (its seat "
                                 "is released; if the payment still succeeds it takes a free seat or is refunded)")
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    currency: str
    fee_tier: int
    hold_expires_at: datetime
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None

    @classmethod
    def of(cls, t: Ticket, now: datetime) -> BuyerTicketOut:
        status: TicketStatus = "expired" if t.hold_lapsed(now) else t.status
        return cls(ticket_id=t.id, space_id=t.space_id, status=status, amount_cents=t.amount_cents,
                   platform_fee_cents=t.platform_fee_cents, host_net_cents=t.host_net_cents, currency=t.currency,
                   fee_tier=t.fee_tier, hold_expires_at=t.hold_expires_at, created_at=t.created_at,
                   paid_at=t.paid_at, refunded_at=t.refunded_at)


class BuyerTicketPage(Out):
    items: list[BuyerTicketOut]
    next_cursor: str | None


class StripeWebhookOut(Out):
    received: bool = True
    event_id: str
    type: str
    outcome: str = Field(description="what the event did, e.g. `paid`, `duplicate`, `ignored_type`")
