"""Stripe, behind the ``PaymentGateway`` port.

One ``stripe.StripeClient`` per container, created on first use (the SDK is imported only then,
so routes that never touch money never load it). ``stripe.api_key`` is never set globally.
Every write carries a deterministic idempotency key built from our own ids, so a retry after a
timeout cannot charge, refund or create twice. SDK errors leave as ours: Stripe being unreachable
(or failing on its side) is 503 ``upstream_unavailable``; a request Stripe refuses is
``PaymentRejected`` (409) with Stripe's code in the details.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from threading import Lock
from typing import Any

from chalicelib.domain.errors import Conflict, Unauthenticated, UpstreamUnavailable, ValidationFailed
from chalicelib.domain.payments import (
    CONNECT,
    PLATFORM,
    AccountState,
    AccountUpdated,
    AnyPaymentEvent,
    ChargeRefunded,
    Endpoint,
    OtherPaymentEvent,
    PaymentEnded,
    PaymentSucceeded,
    TicketRef,
)
from chalicelib.domain.tickets import PaymentSheet
from chalicelib.ports import SecretReader, TicketPaymentRequest

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
class StripeOptions:
    """How to reach Stripe (from settings). Empty ``api_base``: Stripe itself."""

    api_base: str = ""
    timeout_seconds: float = 10.0
    max_network_retries: int = 2
    ephemeral_key_version: str = ""


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    publishable_key: str
    webhook_secrets: tuple[str, ...]
    options: StripeOptions


class StripeGateway:
    """``PaymentGateway`` on Stripe. Its keys are read from ``secrets`` on first use, so building
    the gateway costs nothing on a cold start."""

    def __init__(self, secrets: SecretReader, options: StripeOptions | None = None) -> None:
        self._secrets = secrets
        self._options = options or StripeOptions()
        self._config: StripeConfig | None = None
        self._client: Any = None
        self._lock = Lock()

    # -- the client ------------------------------------------------------------------------------
    @property
    def config(self) -> StripeConfig:
        if self._config is None:
            secrets = self._secrets
            self._config = StripeConfig(
                secret_key=secrets.get_secret("stripe_secret_key"),
                publishable_key=secrets.get_secret("stripe_publishable_key"),
                webhook_secrets=(secrets.get_secret("stripe_webhook_secret"),
                                 secrets.get_secret("stripe_connect_webhook_secret")),
                options=self._options)
        return self._config

    @property
    def configured(self) -> bool:
        return bool(self.config.secret_key)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import stripe

                cfg, opts = self.config, self._options
                if not cfg.secret_key:
                    raise UpstreamUnavailable("payments are not configured in this stage")
                from stripe._base_address import BaseAddresses

                base: BaseAddresses | None = {"api": opts.api_base, "connect": opts.api_base} if opts.api_base else None
                self._client = stripe.StripeClient(
                    cfg.secret_key, base_addresses=base, max_network_retries=opts.max_network_retries,
                    http_client=stripe.RequestsClient(timeout=opts.timeout_seconds),
                )
            return self._client

    def _call(self, what: str, fn: Callable[[], Any], *, already_done: Collection[str] = frozenset()) -> Any:
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
    def create_express_account(self, user_id: str, *, email: str | None = None) -> AccountState:
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

    def retrieve_account(self, account_id: str) -> AccountState:
        account = self._call("read the payout account", lambda: self.client.v1.accounts.retrieve(account_id))
        return account_state(account.to_dict())

    # -- payments ------------------------------------------------------------------------------
    def create_customer(self, user_id: str) -> str:
        customer = self._call("create the customer", lambda: self.client.v1.customers.create(
            params={"metadata": {"airwaves_user_id": user_id}},
            options={"idempotency_key": CUSTOMER_KEY.format(user_id=user_id)}))
        return str(customer.id)

    def create_ticket_payment(self, request: TicketPaymentRequest) -> PaymentSheet:
        """A destination charge: the buyer pays the platform, Stripe moves ``amount - fee`` to the
        host's account. Our ticket id rides in the metadata; the key makes a retry return the
        same PaymentIntent."""
        r = request
        params = {
            "amount": r.amount_cents, "currency": r.currency, "customer": r.customer_id,
            "automatic_payment_methods": {"enabled": True},
            "application_fee_amount": r.platform_fee_cents,
            "transfer_data": {"destination": r.destination},
            "description": r.description[:1000],
            "metadata": {"ticket_id": r.ticket_id, "space_id": r.space_id, "buyer_id": r.buyer_id,
                         "host_id": r.host_id},
        }
        intent = self._call("create the payment", lambda: self.client.v1.payment_intents.create(
            params=params, options={"idempotency_key": TICKET_CREATE_KEY.format(ticket_id=r.ticket_id)}))
        return self._sheet(intent, r.customer_id)

    def payment_sheet(self, payment_intent_id: str, customer_id: str) -> PaymentSheet:
        """A fresh sheet for an existing PaymentIntent (the app lost its client secret)."""
        intent = self._call("read the payment", lambda: self.client.v1.payment_intents.retrieve(payment_intent_id))
        return self._sheet(intent, customer_id)

    def _sheet(self, intent: Any, customer_id: str) -> PaymentSheet:
        options: dict[str, Any] = {}
        if self._options.ephemeral_key_version:
            options["stripe_version"] = self._options.ephemeral_key_version
        key = self._call("create the ephemeral key", lambda: self.client.v1.ephemeral_keys.create(
            params={"customer": customer_id}, options=options))
        return PaymentSheet(payment_intent_id=str(intent.id), client_secret=str(intent.client_secret),
                            customer_id=customer_id, ephemeral_key=key.to_dict().get("secret"),
                            publishable_key=self.config.publishable_key)

    def ticket_of_payment(self, payment_intent_id: str) -> TicketRef | None:
        """Our ticket, from the metadata we put on the PaymentIntent."""
        intent = self._call("read the payment", lambda: self.client.v1.payment_intents.retrieve(payment_intent_id))
        return _ticket_ref(intent.to_dict().get("metadata"))

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
    def verify_event(self, payload: bytes, signature: str | None) -> AnyPaymentEvent:
        """The event in ``payload`` after checking ``Stripe-Signature`` with the SDK's own
        verification, against the platform endpoint's secret and then the Connect endpoint's,
        translated into our event types (``domain/payments.py``)."""
        import stripe

        secrets = [s for s in self.config.webhook_secrets if s]
        if not secrets:
            raise UpstreamUnavailable("Stripe webhooks are not configured in this stage")
        if not signature:
            raise _bad_signature("is missing")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_an_event() from exc
        endpoints: tuple[Endpoint, ...] = (PLATFORM, CONNECT)
        for endpoint, secret in zip(endpoints, self.config.webhook_secrets, strict=True):
            if not secret:
                continue
            try:
                stripe.WebhookSignature.verify_header(text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
            except stripe.SignatureVerificationError:
                continue
            try:
                event = json.loads(text)
            except ValueError as exc:  # signed, but not JSON
                raise _not_an_event() from exc
            if not isinstance(event, dict):  # signed JSON, but an array, a number...
                raise _not_an_event()
            return payment_event(event, endpoint)
        raise _bad_signature("does not match this payload")

    def ping(self) -> None:
        self._call("answer a health check", lambda: self.client.v1.balance.retrieve())


# -- Stripe's wire format, read here only ------------------------------------------------------------
def account_state(account: dict[str, Any]) -> AccountState:
    """The few fields of a Stripe account we keep (from an API object or an ``account.updated``
    event), plus our user id from its metadata."""
    user_id = (account.get("metadata") or {}).get("airwaves_user_id")
    return AccountState(
        account_id=str(account.get("id") or ""), charges_enabled=bool(account.get("charges_enabled")),
        payouts_enabled=bool(account.get("payouts_enabled")), details_submitted=bool(account.get("details_submitted")),
        user_id=user_id if isinstance(user_id, str) and user_id else None)


def _ticket_ref(metadata: Any) -> TicketRef | None:
    if not isinstance(metadata, dict):
        return None
    space_id, ticket_id = metadata.get("space_id"), metadata.get("ticket_id")
    if isinstance(space_id, str) and isinstance(ticket_id, str) and space_id and ticket_id:
        return TicketRef(space_id=space_id, ticket_id=ticket_id)
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def payment_event(event: dict[str, Any], endpoint: Endpoint = PLATFORM) -> AnyPaymentEvent:
    """A verified Stripe event as one of ours. An event without the object we need becomes an
    ``OtherPaymentEvent`` that names why; it changes nothing."""
    kind = _str(event.get("type"))
    account = event.get("account")
    # the fields of ``PaymentEvent``, in order: event_id, type, created, connected_account, endpoint
    base: tuple[str, str, int, str | None, Endpoint] = (
        _str(event.get("id")), kind, _int(event.get("created")),
        account if isinstance(account, str) and account else None, endpoint)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return OtherPaymentEvent(*base, reason="ignored_no_object")
    if kind == "payment_intent.succeeded":
        return PaymentSucceeded(*base, payment_intent_id=_str(obj.get("id")), ticket=_ticket_ref(obj.get("metadata")),
                                amount_received=_int(obj.get("amount_received")), currency=_str(obj.get("currency")))
    if kind in ("payment_intent.payment_failed", "payment_intent.canceled"):
        return PaymentEnded(*base, payment_intent_id=_str(obj.get("id")), ticket=_ticket_ref(obj.get("metadata")),
                            failed=kind.endswith("failed"))
    if kind == "charge.refunded":
        refunds = obj.get("refunds")
        listed = refunds.get("data") if isinstance(refunds, dict) else None
        first = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], dict) else {}
        intent = obj.get("payment_intent")
        return ChargeRefunded(*base, charge_id=_str(obj.get("id")),
                              payment_intent_id=intent if isinstance(intent, str) and intent else None,
                              ticket=_ticket_ref(obj.get("metadata")), refunded_in_full=bool(obj.get("refunded")),
                              amount_refunded=_int(obj.get("amount_refunded")), currency=_str(obj.get("currency")),
                              refund_id=_str(first.get("id")) or None)
    if kind == "account.updated":
        return AccountUpdated(*base, account=account_state(obj))
    return OtherPaymentEvent(*base)


def _not_an_event() -> ValidationFailed:
    return ValidationFailed("body: is not a Stripe event",
                            details=[{"field": "body", "message": "is not a Stripe event"}])


def _bad_signature(message: str) -> Unauthenticated:
    """401: whoever sent it is not Stripe (or not this endpoint's Stripe account)."""
    return Unauthenticated(f"Stripe-Signature: {message}",
                           details=[{"field": "Stripe-Signature", "message": message}])
