"""``GET /v1/health`` reports Stripe (probed through the real SDK against stripe-mock)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.stripe


def test_health_reports_stripe_ok(stripe, api):
    res = api.call("GET", "/v1/health")
    assert res.status_code == 200
    assert res.json["dependencies"]["stripe"]["status"] == "ok"
    assert stripe.wire.to("GET", "/v1/balance")


def test_health_reports_stripe_down_and_money_routes_answer_503(stripe, api, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AIRWAVES_STRIPE_TIMEOUT_SECONDS", "2")
    reset_container()
    res = api.call("GET", "/v1/health")
    assert res.status_code == 200 and res.json["status"] == "degraded"
    assert res.json["dependencies"]["stripe"]["status"] == "down"
    api.make_user("cara", followers=5000)
    res = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara")
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
