"""Payments in the logs and metrics (issue 11), on stripe-mock: a Stripe event is logged under its
event id with its outcome, a sale and each refund are one EMF data point with their dimensions,
and a canceled Space's refund job is logged under its SQS message id with the queue's lag."""
from __future__ import annotations

import pytest

from chalicelib.domain.telemetry import NAMESPACE
from tests.helpers import emf_points, log_lines

pytestmark = pytest.mark.stripe


@pytest.fixture
def sale(stripe):
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", price_cents=2_000, quantity=3)
    return space, stripe.buy("bo", space["id"])


def points(out: str, name: str) -> list[tuple]:
    return [p for p in emf_points(out) if p[1] == name]


def test_a_sale_is_logged_under_its_stripe_event_id_and_counted_once(stripe, sale, capsys):
    _, ticket = sale
    capsys.readouterr()
    stripe.pay(ticket, event_id="evt_obs_sale")
    stripe.pay(ticket, event_id="evt_obs_sale")  # Stripe's redelivery
    out = capsys.readouterr().out
    first, again = log_lines(out, "event")
    assert {k: first[k] for k in ("correlation_id", "source", "event_id", "kind", "outcome")} == {
        "correlation_id": "evt_obs_sale", "source": "stripe", "event_id": "evt_obs_sale",
        "kind": "payment_intent.succeeded", "outcome": "paid"}
    assert (again["correlation_id"], again["outcome"]) == ("evt_obs_sale", "duplicate")
    assert points(out, "TicketsSold") == [(NAMESPACE, "TicketsSold", "Count", {"Currency": ticket["currency"]}, 1)]
    assert points(out, "WebhookEvents") == [
        (NAMESPACE, "WebhookEvents", "Count", {"Source": "stripe", "Outcome": "paid"}, 1),
        (NAMESPACE, "WebhookEvents", "Count", {"Source": "stripe", "Outcome": "duplicate"}, 1)]
    assert stripe.secret not in out


def test_a_refund_stripe_reports_is_counted_once_with_its_reason(stripe, sale, capsys):
    _, ticket = sale
    stripe.pay(ticket)
    capsys.readouterr()
    assert stripe.refund_event(ticket, event_id="evt_obs_refund").json["outcome"] == "refunded"
    assert stripe.refund_event(ticket).json["outcome"] == "already_refunded"
    out = capsys.readouterr().out
    assert points(out, "Refunds") == [(NAMESPACE, "Refunds", "Count", {"Reason": "payment_refunded"}, 1)]
    assert log_lines(out, "event")[0]["correlation_id"] == "evt_obs_refund"


def test_a_canceled_spaces_refunds_are_counted_and_its_job_logged_under_the_message_id(
        stripe, api, sale, runner, capsys):
    space, ticket = sale
    stripe.pay(ticket)
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    capsys.readouterr()
    runner.drain()
    out = capsys.readouterr().out
    assert points(out, "Refunds") == [(NAMESPACE, "Refunds", "Count", {"Reason": "space_canceled"}, 1)]
    jobs = [line for line in log_lines(out, "event") if line["source"] == "sqs"]
    assert [(j["kind"], j["outcome"]) for j in jobs if j["kind"] == "refunds"] == [("refunds", "done")]
    assert all(j["correlation_id"] == j["event_id"] and j["event_id"] for j in jobs)
    lags = points(out, "QueueLag")
    assert len(lags) == len(jobs) and all(p[2] == "Seconds" and p[3] == {} and 0 <= p[4] < 600 for p in lags)
