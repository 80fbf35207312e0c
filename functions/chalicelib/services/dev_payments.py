"""Local stage only: complete a ticket's payment the way Stripe would, through the real webhook.

The buyer asks; the signed ``payment_intent.succeeded`` delivery is built by the adapter and
handed to ``StripeWebhooks.receive``, the same verify-dedupe-route flow Stripe's own deliveries
take. The route answers 404 outside the local stage.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import NotFound
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import DevPaymentEvents, TicketRepository
from chalicelib.services.stripe_webhooks import StripeWebhooks, WebhookResult


@dataclass(frozen=True)
class DevPayment:
    ticket: Ticket
    webhook: WebhookResult


@dataclass
class DevPayments:
    tickets: TicketRepository
    events: DevPaymentEvents
    webhooks: StripeWebhooks

    def complete(self, buyer_id: str, space_id: str, ticket_id: str) -> DevPayment:
        ticket = self.tickets.get(space_id, ticket_id)
        if ticket is None or ticket.buyer_id != buyer_id:
            raise NotFound("no such ticket of yours")
        delivery = self.events.payment_succeeded(ticket)
        result = self.webhooks.receive(delivery.payload, delivery.signature)
        return DevPayment(ticket=self.tickets.require(space_id, ticket_id), webhook=result)
