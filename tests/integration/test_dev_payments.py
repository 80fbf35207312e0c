"""The local stage's dev-only payment route: a buyer completes a ticket's payment, and it is the
real Stripe webhook code (signature verified by the SDK, dedupe, the ticket flow) that makes the
ticket paid. Stripe calls go through the real SDK to stripe-mock."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.stripe


@pytest.fixture
def bought(stripe):
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", price_cents=900, quantity=2)
    return stripe.buy("bo", space["id"])


def _pay(api, ticket, user="bo"):
    return api.call("POST", f"/v1/dev/spaces/{ticket['space_id']}/tickets/{ticket['ticket_id']}/pay", as_user=user)


def test_paying_delivers_a_signed_event_through_the_webhook_and_the_ticket_is_paid(stripe, api, bought):
    res = _pay(api, bought)
    assert res.status_code == 200, res.body
    assert (res.json["status"], res.json["webhook_outcome"]) == ("paid", "paid")
    assert res.json["webhook_event_id"].startswith("evt_")
    mine = api.call("GET", "/v1/me/tickets", as_user="bo").json["items"]
    assert [(t["ticket_id"], t["status"]) for t in mine] == [(bought["ticket_id"], "paid")]
    # paying again is harmless: the webhook flow says it was already paid
    again = _pay(api, bought)
    assert again.status_code == 200 and again.json["webhook_outcome"] == "already_paid"


def test_the_signature_is_really_checked(stripe, api, bought):
    """Signed with a secret the webhook endpoint does not know, the delivery fails verification."""
    from chalicelib.adapters.stripe_dev_events import StripeDevEvents
    from chalicelib.container import get_container

    container = get_container()
    container.dev_payments.events = StripeDevEvents(_Secrets("whsec_not_the_endpoint_secret"))
    res = _pay(api, bought)
    assert res.status_code == 401, res.body  # not signed by this endpoint's secret: unauthenticated
    assert "Stripe-Signature" in res.json["error"]["message"]
    assert api.call("GET", "/v1/me/tickets", as_user="bo").json["items"][0]["status"] == "pending"


def test_someone_elses_ticket_is_not_found(stripe, api, bought):
    res = _pay(api, bought, user="mallory")
    assert res.status_code == 404 and res.json["error"]["code"] == "not_found"


def test_the_route_exists_only_in_the_local_stage(stripe, api, bought, monkeypatch):
    monkeypatch.setenv("AIRWAVES_STAGE", "prod")
    from chalicelib.container import reset_container

    reset_container()
    res = _pay(api, bought)
    assert res.status_code == 404 and res.json["error"]["code"] == "not_found"


class _Secrets:
    def __init__(self, webhook_secret: str) -> None:
        self.webhook_secret = webhook_secret

    def get_secret(self, name: str) -> str:
        return self.webhook_secret if name == "stripe_webhook_secret" else ""
