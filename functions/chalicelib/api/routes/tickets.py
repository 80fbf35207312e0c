"""Payouts (creators), tickets (buyers) and Stripe's webhook."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, endpoint
from chalicelib.api.schemas import PageQuery
from chalicelib.api.ticket_schemas import (
    BuyerTicketOut,
    BuyerTicketPage,
    LedgerLineOut,
    OnboardingOut,
    PayoutsOut,
    PayoutsQuery,
    StripeWebhookOut,
    TicketPurchaseOut,
)
from chalicelib.container import get_container
from chalicelib.domain.clock import utcnow

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/me/payouts/onboarding", tag="payouts", status=201, response=OnboardingOut,
          idempotent=True, summary="Create my Stripe Connect (Express) account once and a fresh onboarding link",
          errors=(401, 409, 503))
def start_onboarding(call: Call) -> OnboardingOut:
    result = get_container().payouts.start_onboarding(call.user_id)
    return OnboardingOut(account_id=result.account_id, onboarding_url=result.onboarding_url)


@endpoint(bp, "GET", "/v1/me/payouts", tag="payouts", query=PayoutsQuery, response=PayoutsOut,
          summary="My payout account, lifetime gross, current fee rate and what I sold", errors=(400, 401))
def my_payouts(call: Call) -> PayoutsOut:
    c = get_container()
    pages = c.cursors(f"ledger:{call.user_id}")
    start = pages.start(call.query.cursor)
    st = c.payouts.status(call.user_id, start=start, limit=call.query.limit)
    a, e = st.account, st.earnings
    return PayoutsOut(
        account_id=a.account_id if a else None, charges_enabled=bool(a and a.charges_enabled),
        payouts_enabled=bool(a and a.payouts_enabled), details_submitted=bool(a and a.details_submitted),
        lifetime_gross_cents=e.lifetime_gross_cents, platform_fee_cents=e.platform_fee_cents,
        host_net_cents=e.host_net_cents, tickets_sold=e.tickets_sold, tickets_refunded=e.tickets_refunded,
        fee_percent=st.fee_percent, fee_tier=st.fee_tier, next_tier_at_cents=st.next_tier_at_cents,
        sales=[LedgerLineOut.of(x) for x in st.recent],
        next_cursor=pages.next(st.next_position))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/tickets", tag="tickets", status=201, response=TicketPurchaseOut,
          idempotent=True, summary="Buy a ticket: holds a seat and opens a Stripe payment for the PaymentSheet",
          errors=(401, 403, 404, 409, 503))
def buy_ticket(call: Call, space_id: str) -> Reply:
    purchase = get_container().tickets.buy(call.user_id, space_id)
    t, s = purchase.ticket, purchase.sheet
    out = TicketPurchaseOut(
        ticket_id=t.id, space_id=t.space_id, status=t.status, client_secret=s.client_secret,  # type: ignore[arg-type]
        payment_intent_id=s.payment_intent_id, customer_id=s.customer_id, ephemeral_key=s.ephemeral_key,
        publishable_key=s.publishable_key, amount_cents=t.amount_cents, platform_fee_cents=t.platform_fee_cents,
        host_net_cents=t.host_net_cents, currency=t.currency, fee_tier=t.fee_tier, hold_expires_at=t.hold_expires_at)
    return Reply(out, status=201 if purchase.created else 200)


@endpoint(bp, "GET", "/v1/me/tickets", tag="tickets", query=PageQuery, response=BuyerTicketPage,
          summary="My tickets, newest first", errors=(400, 401))
def my_tickets(call: Call) -> BuyerTicketPage:
    c = get_container()
    pages = c.cursors(f"tickets:{call.user_id}")
    start = pages.start(call.query.cursor)
    tickets, last = c.tickets.mine(call.user_id, start, call.query.limit)
    now = utcnow()
    return BuyerTicketPage(items=[BuyerTicketOut.of(t, now) for t in tickets],
                      next_cursor=pages.next(last))


@endpoint(bp, "POST", "/v1/webhooks/stripe", tag="webhooks", auth=False, response=StripeWebhookOut,
          summary="Stripe events (platform and Connect endpoints); Stripe-Signature is verified on the raw body",
          errors=(400, 503))
def stripe_webhook(call: Call) -> StripeWebhookOut:
    result = get_container().stripe_webhooks.receive(call.raw_body, call.headers.get("stripe-signature"))
    return StripeWebhookOut(event_id=result.event_id, type=result.type, outcome=result.outcome)
