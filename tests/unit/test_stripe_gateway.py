"""The Stripe gateway's edges that need no server: SDK errors leave as ours, the client is lazy
and never global, and the app's cold path does not import the SDK."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import stripe as stripe_sdk

from chalicelib.adapters.stripe import PaymentRejected, StripeGateway, StripeOptions
from chalicelib.domain.errors import Unauthenticated, UpstreamUnavailable
from chalicelib.secrets import StaticSecrets

ROOT = Path(__file__).resolve().parents[2]
KEYS = StaticSecrets({"stripe_secret_key": "sk_test_unit", "stripe_publishable_key": "pk_test_unit",
                      "stripe_webhook_secret": "whsec_unit"})
OPTIONS = StripeOptions(api_base="http://127.0.0.1:9")


def gateway() -> StripeGateway:
    return StripeGateway(KEYS, OPTIONS)


def raising(exc: Exception):
    def fn():
        raise exc
    return fn


@pytest.mark.parametrize("exc", [
    stripe_sdk.APIConnectionError("connection refused"),
    stripe_sdk.RateLimitError("slow down", http_status=429),
    stripe_sdk.AuthenticationError("bad key", http_status=401),
    stripe_sdk.APIError("stripe broke", http_status=500),
    stripe_sdk.InvalidRequestError("weird", param=None, http_status=503),
])
def test_stripe_down_or_misconfigured_is_503(exc):
    with pytest.raises(UpstreamUnavailable) as caught:
        gateway()._call("do it", raising(exc))
    assert caught.value.status == 503 and caught.value.__cause__ is exc


def test_a_refused_request_is_409_with_stripes_code():
    exc = stripe_sdk.InvalidRequestError("No such destination", param="transfer_data[destination]",
                                         code="resource_missing", http_status=400)
    with pytest.raises(PaymentRejected) as caught:
        gateway()._call("create the payment", raising(exc))
    assert caught.value.status == 409 and caught.value.details["stripe_code"] == "resource_missing"


def test_already_done_codes_count_as_success():
    exc = stripe_sdk.InvalidRequestError("already refunded", param=None, code="charge_already_refunded",
                                         http_status=400)
    assert gateway()._call("refund", raising(exc), already_done={"charge_already_refunded"}) is None


def test_the_client_is_built_once_on_first_use_and_never_global():
    built = gateway()
    assert built._client is None
    client = built.client
    assert built.client is client
    assert isinstance(client, stripe_sdk.StripeClient)
    assert stripe_sdk.api_key is None


def test_without_a_key_payments_are_unavailable_not_a_crash():
    unkeyed = StripeGateway(StaticSecrets({}))
    assert unkeyed.configured is False
    with pytest.raises(UpstreamUnavailable):
        _ = unkeyed.client
    with pytest.raises(UpstreamUnavailable):
        unkeyed.verify_event(b"{}", "t=1,v1=x")


def test_a_missing_signature_is_unauthenticated():
    with pytest.raises(Unauthenticated) as caught:
        gateway().verify_event(b"{}", None)
    assert caught.value.details == [{"field": "Stripe-Signature", "message": "is missing"}]


def test_a_closed_port_is_503_through_the_real_sdk():
    closed = StripeGateway(StaticSecrets({"stripe_secret_key": "sk_test_unit"}),
                           StripeOptions(api_base="http://127.0.0.1:9", timeout_seconds=2, max_network_retries=0))
    with pytest.raises(UpstreamUnavailable):
        closed.create_customer("u1")


def test_importing_the_app_does_not_import_the_stripe_sdk():
    code = "import sys; import app; print('stripe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions", capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
