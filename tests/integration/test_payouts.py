"""Creators get paid: Connect onboarding, account state from webhooks, eligibility, the payouts view.

Stripe calls go through the real SDK to stripe-mock; ``stripe.wire`` shows what was sent.
"""
from __future__ import annotations

import time
from datetime import UTC

import pytest

from tests.helpers import assert_refused

pytestmark = [pytest.mark.stripe, pytest.mark.usefixtures("refusals_change_nothing")]


def test_onboarding_creates_an_express_account_through_controller_and_a_link(stripe, api):
    api.make_user("cara", followers=5000)
    res = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara")
    assert res.status_code == 201, res.body
    assert res.json["account_id"].startswith("acct_")
    assert res.json["onboarding_url"].startswith("https://")

    [create] = stripe.wire.to("POST", "/v1/accounts")
    assert create.params["controller[stripe_dashboard][type]"] == "express"
    assert create.params["controller[fees][payer]"] == "application"
    assert create.params["controller[losses][payments]"] == "application"
    assert "type" not in create.params  # the deprecated parameter is never sent
    assert create.params["metadata[airwaves_user_id]"] == "cara"
    assert create.idempotency_key == "payouts:cara:account"
    [link] = stripe.wire.to("POST", "/v1/account_links")
    assert link.params["account"] == res.json["account_id"]
    assert link.params["type"] == "account_onboarding"


def test_onboarding_again_keeps_the_account_and_makes_a_fresh_link(stripe, api):
    api.make_user("cara", followers=5000)
    first = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara").json
    second = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara")
    assert second.status_code == 201
    assert second.json["account_id"] == first["account_id"]
    assert len(stripe.wire.to("POST", "/v1/accounts")) == 1
    assert len(stripe.wire.to("POST", "/v1/account_links")) == 2


def test_payouts_view_before_onboarding(stripe, api):
    res = api.call("GET", "/v1/me/payouts", as_user="nobody")
    assert res.status_code == 200
    assert res.json["account_id"] is None
    assert res.json["charges_enabled"] is False
    assert res.json["lifetime_gross_cents"] == 0
    assert res.json["fee_percent"] == 3.0
    assert res.json["sales"] == []


def test_account_updated_on_the_connect_endpoint_enables_charges(stripe, api):
    api.make_user("cara", followers=5000)
    stripe.enable_charges("cara")
    res = api.call("GET", "/v1/me/payouts", as_user="cara")
    assert res.json["charges_enabled"] is True and res.json["payouts_enabled"] is True


def test_an_older_account_event_never_overwrites_a_newer_one(stripe, api):
    api.make_user("cara", followers=5000)
    now = int(time.time())
    account = stripe.enable_charges("cara", enabled=True, created=now)
    stale = {"id": account, "object": "account", "charges_enabled": False, "payouts_enabled": False,
             "details_submitted": False, "metadata": {"airwaves_user_id": "cara"}}
    res = stripe.send("account.updated", stale, connect=True, created=now - 60)
    assert res.status_code == 200 and res.json["outcome"] == "ignored_stale_or_unknown"
    assert api.call("GET", "/v1/me/payouts", as_user="cara").json["charges_enabled"] is True

    later = dict(stale)
    res = stripe.send("account.updated", later, connect=True, created=now + 60)
    assert res.json["outcome"] == "account_updated"
    assert api.call("GET", "/v1/me/payouts", as_user="cara").json["charges_enabled"] is False


def test_account_event_found_by_account_id_when_metadata_is_missing(stripe, api):
    api.make_user("cara", followers=5000)
    account = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara").json["account_id"]
    res = stripe.send("account.updated", {"id": account, "object": "account", "charges_enabled": True},
                      connect=True)
    assert res.json["outcome"] == "account_updated"
    assert api.call("GET", "/v1/me/payouts", as_user="cara").json["charges_enabled"] is True


def test_an_account_event_cannot_move_someone_elses_account(stripe, api):
    api.make_user("cara", followers=5000)
    api.make_user("mallory", followers=5000)
    api.call("POST", "/v1/me/payouts/onboarding", as_user="cara")
    res = stripe.send("account.updated", {"id": "acct_not_caras", "object": "account", "charges_enabled": True,
                                          "metadata": {"airwaves_user_id": "cara"}}, connect=True)
    assert res.json["outcome"] == "ignored_stale_or_unknown"
    assert api.call("GET", "/v1/me/payouts", as_user="cara").json["charges_enabled"] is False


def test_ticketed_eligibility_reasons_then_can_host_ticketed(stripe, api):
    api.make_user("young", followers=5000, birthdate="2015-01-01")
    res = api.call("GET", "/v1/me/eligibility", as_user="young")
    assert res.status_code == 200
    assert res.json["can_host"] is True and res.json["can_host_ticketed"] is False
    assert set(res.json["ticketed_reasons"]) == {"under_minimum_age", "charges_not_enabled",
                                                 "not_enough_recent_spaces"}

    stripe.make_host("cara", charges=False)
    res = api.call("GET", "/v1/me/eligibility", as_user="cara").json
    assert res["can_host_ticketed"] is False and res["ticketed_reasons"] == ["charges_not_enabled"]

    stripe.enable_charges("cara")
    res = api.call("GET", "/v1/me/eligibility", as_user="cara").json
    assert res["can_host_ticketed"] is True and res["ticketed_reasons"] == []


def test_creating_a_ticketed_space_needs_ticketed_eligibility(stripe, api):
    from datetime import datetime, timedelta

    stripe.make_host("cara", charges=False)
    body = {"title": "Paid talk", "scheduled_start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "ticket": {"price_cents": 500, "currency": "usd", "quantity": 10}}
    res = api.call("POST", "/v1/spaces", as_user="cara", body=body)
    assert_refused(res, 403, "not_eligible")
    assert res.json["error"]["details"]["reasons"] == ["charges_not_enabled"]
    stripe.enable_charges("cara")
    assert api.call("POST", "/v1/spaces", as_user="cara", body=body).status_code == 201


def test_ticketed_thresholds_are_configurable(stripe, api, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_TICKETED_MIN_FOLLOWERS", "10000")
    monkeypatch.setenv("AIRWAVES_TICKETED_MIN_RECENT_SPACES", "0")
    monkeypatch.setenv("AIRWAVES_TICKETED_MIN_AGE_YEARS", "21")
    reset_container()
    api.make_user("cara", followers=5000, birthdate="2006-01-01")
    stripe.enable_charges("cara")
    res = api.call("GET", "/v1/me/eligibility", as_user="cara").json
    assert set(res["ticketed_reasons"]) == {"not_enough_followers", "under_minimum_age"}


def test_payouts_onboarding_needs_a_token(stripe, api):
    res = api.call("POST", "/v1/me/payouts/onboarding")
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated"
