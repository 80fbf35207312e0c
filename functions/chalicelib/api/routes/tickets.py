"""Payouts (creators), tickets (buyers) and Stripe's webhook."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.routing import Call, Caller, Reply, endpoint
from chalicelib.api.schemas import PageQuery
from chalicelib.api.ticket_schemas import (
    BuyerTicketOut,
    BuyerTicketPage,
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
    page = call.page(f"ledger:{call.user_id}")
    status = get_container().payouts.status(call.user_id, page.request)
    return PayoutsOut.of(status, next_cursor=page.next_cursor(status.recent))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/tickets", caller=Caller.listeners, tag="tickets", status=201,
          creates=("ticket_id", "ticket_id"), response=TicketPurchaseOut,
          idempotent=True, summary="Buy a ticket: holds a seat and opens a Stripe payment for the PaymentSheet",
          errors=(401, 403, 404, 409, 429, 503))
def buy_ticket(call: Call, space_id: str) -> Reply:
    purchase = get_container().tickets.buy(call.user_id, space_id)
    return Reply(TicketPurchaseOut.of(purchase), status=201 if purchase.created else 200)


@endpoint(bp, "GET", "/v1/me/tickets", tag="tickets", query=PageQuery, response=BuyerTicketPage,
          summary="My tickets, newest first", errors=(400, 401))
def my_tickets(call: Call) -> BuyerTicketPage:
    page = call.page(f"tickets:{call.user_id}")
    tickets = get_container().tickets.mine(call.user_id, page.request)
    now = utcnow()
    return BuyerTicketPage(items=[BuyerTicketOut.of(t, now) for t in tickets.items], next_cursor=page.next_cursor(tickets))


@endpoint(bp, "POST", "/v1/webhooks/stripe", caller=Caller.signature, tag="webhooks", auth=False, response=StripeWebhookOut,
          summary="Stripe events (platform and Connect endpoints); Stripe-Signature is verified on the raw body",
          errors=(400, 401, 409, 503), signature_header="Stripe-Signature")
def stripe_webhook(call: Call) -> StripeWebhookOut:
    result = get_container().stripe_webhooks.receive(call.raw_body, call.headers.get("stripe-signature"))
    return StripeWebhookOut(event_id=result.event_id, type=result.type, outcome=result.outcome)
