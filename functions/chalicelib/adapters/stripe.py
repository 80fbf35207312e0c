"""Stripe, behind the ``PaymentGateway`` port.

One ``stripe.StripeClient`` per container, created on first use (the SDK is imported only then,
so routes that never touch money never load it). ``stripe.api_key`` is never set globally.
Every write carries a deterministic idempotency key built from our own ids, so a retry after a
timeout cannot charge, refund or create twice. SDK errors leave as ours: Stripe being unreachable
(or failing on its side) is 503 ``upstream_unavailable``; a request Stripe refuses is
``PaymentRejected`` (409) with Stripe's code in the details.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any

from chalicelib.domain.errors import Conflict, UpstreamUnavailable, ValidationFailed
from chalicelib.domain.tickets import PaymentSheet, account_state

ACCOUNT_KEY = "payouts:{user_id}:account"
CUSTOMER_KEY = "customer:{user_id}:create"
TICKET_CREATE_KEY = "ticket:{ticket_id}:create"
TICKET_CANCEL_KEY = "ticket:{ticket_id}:cancel"
TICKET_REFUND_KEY = "ticket:{ticket_id}:refund"

# Stripe answers these when the thing we asked for is already done: the refund already happened,
# the payment is already canceled. A retry treats them as success.
ALREADY_REFUNDED = {"charge_already_refunded"}
NOT_CANCELABLE = {"payment_intent_unexpected_state"}


class PaymentRejected(Conflict):
    """Stripe refused the request (its code is in ``details.stripe_code``)."""

    code = "invalid_state"


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    publishable_key: str
    webhook_secrets: tuple[str, ...]
    api_base: str = ""
    timeout_seconds: float = 10.0
    max_network_retries: int = 2
    ephemeral_key_version: str = ""


class StripeGateway:
    def __init__(self, config: Callable[[], StripeConfig] | StripeConfig) -> None:
        self._config_source = config
        self._config: StripeConfig | None = None
        self._client: Any = None
        self._lock = Lock()

    # -- the client ------------------------------------------------------------------------------
    @property
    def config(self) -> StripeConfig:
        if self._config is None:
            src = self._config_source
            self._config = src() if callable(src) else src
        return self._config

    @property
    def configured(self) -> bool:
        return bool(self.config.secret_key)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import stripe

                cfg = self.config
                if not cfg.secret_key:
                    raise UpstreamUnavailable("payments are not configured in this stage")
                base = {"api": cfg.api_base, "connect": cfg.api_base} if cfg.api_base else None
                self._client = stripe.StripeClient(
                    cfg.secret_key, base_addresses=base, max_network_retries=cfg.max_network_retries,
                    http_client=stripe.RequestsClient(timeout=cfg.timeout_seconds),
                )
            return self._client

    def _call(self, what: str, fn: Callable[[], Any], *, already_done: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
        """Run one SDK call; translate its errors once."""
        import stripe

        try:
            return fn()
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError,
                stripe.PermissionError) as exc:
            raise UpstreamUnavailable(f"Stripe is unavailable ({what}); try again",
                                      details={"stripe_request_id": exc.request_id}) from exc
        except stripe.StripeError as exc:
            if exc.code in already_done:
                return None
            if exc.http_status is None or exc.http_status >= 500 or isinstance(exc, stripe.APIError):
                raise UpstreamUnavailable(f"Stripe failed ({what}); try again",
                                          details={"stripe_request_id": exc.request_id}) from exc
            raise PaymentRejected(f"Stripe refused to {what}: {exc.user_message or 'no reason given'}",
                                  details={"stripe_code": exc.code, "stripe_request_id": exc.request_id}) from exc

    # -- Connect -----------------------------------------------------------------------------
    def create_express_account(self, user_id: str, *, email: str | None = None) -> dict[str, Any]:
        """A connected account with the Express dashboard, set through ``controller`` (the
        ``type`` parameter is deprecated): the platform pays Stripe's fees and carries losses,
        as destination charges need."""
        params: dict[str, Any] = {
            "controller": {
                "stripe_dashboard": {"type": "express"},
                "fees": {"payer": "application"},
                "losses": {"payments": "application"},
            },
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "metadata": {"airwaves_user_id": user_id},
        }
        if email:
            params["email"] = email
        account = self._call("create the payout account", lambda: self.client.v1.accounts.create(
            params=params, options={"idempotency_key": ACCOUNT_KEY.format(user_id=user_id)}))
        return account_state(account.to_dict())

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        link = self._call("create the onboarding link", lambda: self.client.v1.account_links.create(params={
            "account": account_id, "refresh_url": refresh_url, "return_url": return_url,
            "type": "account_onboarding", "collection_options": {"fields": "eventually_due"},
        }))
        return str(link.url)

    def retrieve_account(self, account_id: str) -> dict[str, Any]:
        account = self._call("read the payout account", lambda: self.client.v1.accounts.retrieve(account_id))
        return account_state(account.to_dict())

    # -- payments ------------------------------------------------------------------------------
    def create_customer(self, user_id: str) -> str:
        customer = self._call("create the customer", lambda: self.client.v1.customers.create(
            params={"metadata": {"airwaves_user_id": user_id}},
            options={"idempotency_key": CUSTOMER_KEY.format(user_id=user_id)}))
        return str(customer.id)

    def create_ticket_payment(self, *, ticket_id: str, space_id: str, buyer_id: str, host_id: str,
                              amount_cents: int, currency: str, platform_fee_cents: int,
                              destination: str, customer_id: str, description: str) -> PaymentSheet:
        """A destination charge: the buyer pays the platform, Stripe moves ``amount - fee`` to the
        host's account. Our ticket id rides in the metadata; the key makes a retry return the
        same PaymentIntent."""
        params = {
            "amount": amount_cents, "currency": currency, "customer": customer_id,
            "automatic_payment_methods": {"enabled": True},
            "application_fee_amount": platform_fee_cents,
            "transfer_data": {"destination": destination},
            "description": description[:1000],
            "metadata": {"ticket_id": ticket_id, "space_id": space_id, "buyer_id": buyer_id, "host_id": host_id},
        }
        intent = self._call("create the payment", lambda: self.client.v1.payment_intents.create(
            params=params, options={"idempotency_key": TICKET_CREATE_KEY.format(ticket_id=ticket_id)}))
        return self._sheet(intent, customer_id)

    def payment_sheet(self, payment_intent_id: str, customer_id: str) -> PaymentSheet:
        """A fresh sheet for an existing PaymentIntent (the app lost its client secret)."""
        intent = self._call("read the payment", lambda: self.client.v1.payment_intents.retrieve(payment_intent_id))
        return self._sheet(intent, customer_id)

    def _sheet(self, intent: Any, customer_id: str) -> PaymentSheet:
        options: dict[str, Any] = {}
        if self.config.ephemeral_key_version:
            options["stripe_version"] = self.config.ephemeral_key_version
        key = self._call("create the ephemeral key", lambda: self.client.v1.ephemeral_keys.create(
            params={"customer": customer_id}, options=options))
        return PaymentSheet(payment_intent_id=str(intent.id), client_secret=str(intent.client_secret),
                            customer_id=customer_id, ephemeral_key=key.to_dict().get("secret"),
                            publishable_key=self.config.publishable_key)

    def payment_metadata(self, payment_intent_id: str) -> dict[str, str]:
        intent = self._call("read the payment", lambda: self.client.v1.payment_intents.retrieve(payment_intent_id))
        return dict(intent.to_dict().get("metadata") or {})

    def cancel_payment(self, *, ticket_id: str, payment_intent_id: str) -> None:
        """Cancel a PaymentIntent whose seat was released; a payment that can no longer be
        canceled (it succeeded meanwhile) is left to the webhook, which refunds it."""
        self._call("cancel the payment", lambda: self.client.v1.payment_intents.cancel(
            payment_intent_id, options={"idempotency_key": TICKET_CANCEL_KEY.format(ticket_id=ticket_id)}),
            already_done=NOT_CANCELABLE)

    def refund_payment(self, *, ticket_id: str, payment_intent_id: str, duplicate: bool = False) -> str | None:
        """Refund a ticket's payment in full, taking the money back from the host's account
        (``reverse_transfer``) and the platform fee back from us (``refund_application_fee``).
        The key is ``ticket:<id>:refund`` (``...:refund:<payment intent>`` for a stray second
        payment of an already settled ticket). Returns the refund id, or None when Stripe says
        the charge was already refunded."""
        key = TICKET_REFUND_KEY.format(ticket_id=ticket_id) + (f":{payment_intent_id}" if duplicate else "")
        refund = self._call("refund the ticket", lambda: self.client.v1.refunds.create(params={
            "payment_intent": payment_intent_id, "reverse_transfer": True, "refund_application_fee": True,
            "metadata": {"ticket_id": ticket_id},
        }, options={"idempotency_key": key}), already_done=ALREADY_REFUNDED)
        return str(refund.id) if refund is not None else None

    # -- webhooks ------------------------------------------------------------------------------
    def verify_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in ``payload`` after checking ``Stripe-Signature`` with the SDK's own
        verification, against the platform endpoint's secret and then the Connect endpoint's."""
        import stripe

        secrets = [s for s in self.config.webhook_secrets if s]
        if not secrets:
            raise UpstreamUnavailable("Stripe webhooks are not configured in this stage")
        if not signature:
            raise _bad_signature("is missing")
        for secret in secrets:
            try:
                event = stripe.Webhook.construct_event(payload, signature, secret)
            except stripe.SignatureVerificationError:
                continue
            except ValueError as exc:  # not JSON, or not an event
                raise ValidationFailed("body: is not a Stripe event",
                                       details=[{"field": "body", "message": "is not a Stripe event"}]) from exc
            return event.to_dict()
        raise _bad_signature("does not match this payload")

    def ping(self) -> None:
        self._call("answer a health check", lambda: self.client.v1.balance.retrieve())


def _bad_signature(message: str) -> ValidationFailed:
    return ValidationFailed(f"Stripe-Signature: {message}",
                            details=[{"field": "Stripe-Signature", "message": message}])
