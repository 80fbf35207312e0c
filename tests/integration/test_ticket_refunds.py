"""Canceling a ticketed Space refunds every paid ticket exactly once (reverse_transfer,
refund_application_fee, deterministic keys) and resumes where it stopped on a retry."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.stripe


def container():
    from chalicelib.container import get_container

    return get_container()


@pytest.fixture
def sold(stripe, api):
    """A ticketed Space with three paid tickets and one pending."""
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", price_cents=1_500, quantity=5)
    paid = []
    for buyer in ("b1", "b2", "b3"):
        t = stripe.buy(buyer, space["id"])
        stripe.pay(t)
        paid.append(t)
    pending = stripe.buy("b4", space["id"])
    return space, paid, pending


def refund_requests(stripe):
    return stripe.wire.to("POST", "/v1/refunds")


def statuses(api, tickets):
    repo = container().ticket_gate
    return {t["ticket_id"]: repo.require(t["space_id"], t["ticket_id"]).status for t in tickets}


def test_cancel_refunds_every_paid_ticket_once_and_releases_pending_holds(stripe, api, sold):
    space, paid, pending = sold
    res = api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    assert res.status_code == 200 and res.json["state"] == "canceled"

    refunds = refund_requests(stripe)
    assert sorted(r.idempotency_key for r in refunds) == sorted(f"ticket:{t['ticket_id']}:refund" for t in paid)
    for r in refunds:
        assert r.params["reverse_transfer"] == "true" and r.params["refund_application_fee"] == "true"
        assert r.params["payment_intent"] and r.params["metadata[ticket_id]"]
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert statuses(api, [pending]) == {pending["ticket_id"]: "canceled"}
    [cancel] = stripe.wire.to("POST", f"/v1/payment_intents/{pending['payment_intent_id']}/cancel")
    assert cancel.idempotency_key == f"ticket:{pending['ticket_id']}:cancel"

    meta = container().table.get(f"SPACE#{space['id']}", "META", consistent=True)
    assert (meta["seats_held"], meta["ticket"]["sold"], meta["subscriber_count"]) == (0, 0, 0)
    payouts = api.call("GET", "/v1/me/payouts", as_user="hana").json
    assert payouts["lifetime_gross_cents"] == 0 and payouts["tickets_refunded"] == 3
    assert sorted(s["kind"] for s in payouts["sales"]) == ["refund"] * 3 + ["sale"] * 3


def test_a_retried_cancel_refunds_nothing_twice(stripe, api, sold):
    space, paid, _ = sold
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    before = len(refund_requests(stripe))
    again = api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    assert again.status_code == 200 and again.json["state"] == "canceled"
    assert len(refund_requests(stripe)) == before == 3
    entries, _ = container().payout_repo.ledger_page("hana", None, 100)
    assert sorted(e.kind for e in entries) == ["refund"] * 3 + ["sale"] * 3


def test_a_failure_midway_is_503_and_the_retry_resumes_where_it_stopped(stripe, api, sold):
    space, paid, _ = sold
    stuck = paid[1]["ticket_id"]
    stripe.wire.fail_when = lambda r: r.path == "/v1/refunds" and r.params.get("metadata[ticket_id]") == stuck
    res = api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    assert res.json["error"]["details"] == {"pending_refunds": 1}
    st = statuses(api, paid)
    assert st[stuck] == "paid" and [v for k, v in st.items() if k != stuck] == ["refunded", "refunded"]
    assert container().spaces.get(space["id"]).state.value == "canceled"

    stripe.wire.fail_when = None
    done_before = {r.idempotency_key for r in refund_requests(stripe) if r.params["metadata[ticket_id]"] != stuck}
    calls_before = len(refund_requests(stripe))
    retry = api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    assert retry.status_code == 200
    new = refund_requests(stripe)[calls_before:]
    assert [r.idempotency_key for r in new] == [f"ticket:{stuck}:refund"]  # only the one left
    assert len(done_before) == 2
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert container().payout_repo.earnings("hana").lifetime_gross_cents == 0


def test_a_crash_after_stripe_refunded_but_before_we_stored_it_reuses_the_same_key(stripe, api, sold, monkeypatch):
    """Stripe's refund went through, our write failed: the retry sends the same key (Stripe
    returns the same refund) and records it once."""
    from chalicelib.domain.errors import UpstreamUnavailable

    space, paid, _ = sold
    repo = container().tickets.tickets
    real = repo.mark_refunded
    target = paid[0]["ticket_id"]

    def crash_once(ticket, now, refund_id):
        if ticket.id == target:
            raise UpstreamUnavailable("the database is busy; try again")
        return real(ticket, now, refund_id)

    monkeypatch.setattr(repo, "mark_refunded", crash_once)
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 503
    monkeypatch.setattr(repo, "mark_refunded", real)
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    keys = [r.idempotency_key for r in refund_requests(stripe)]
    assert keys.count(f"ticket:{target}:refund") == 2  # same key both times: one refund at Stripe
    assert len(keys) == 4
    entries, _ = container().payout_repo.ledger_page("hana", None, 100)
    assert [e.kind for e in entries if e.ticket_id == target].count("refund") == 1


def test_the_no_show_rule_cancels_through_the_same_path(stripe, api, sold):
    space, paid, _ = sold
    container().spaces.cancel(None, space["id"])
    assert len(refund_requests(stripe)) == 3
    assert set(statuses(api, paid).values()) == {"refunded"}


def test_a_payment_that_succeeds_after_the_cancel_is_refunded(stripe, api, sold):
    space, paid, pending = sold
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    res = stripe.pay(pending)
    assert res.json["outcome"] == "refunded_no_seat"
    assert statuses(api, [pending]) == {pending["ticket_id"]: "refunded"}
    assert [r.idempotency_key for r in refund_requests(stripe)][-1] == f"ticket:{pending['ticket_id']}:refund"
    meta = container().table.get(f"SPACE#{space['id']}", "META", consistent=True)
    assert (meta["seats_held"], meta["ticket"]["sold"]) == (0, 0)


def test_stripes_refund_webhooks_after_our_refunds_change_nothing(stripe, api, sold):
    space, paid, _ = sold
    api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    for t in paid:
        assert stripe.refund_event(t).json["outcome"] == "already_refunded"
    entries, _ = container().payout_repo.ledger_page("hana", None, 100)
    assert sorted(e.kind for e in entries) == ["refund"] * 3 + ["sale"] * 3


def test_canceling_a_free_space_calls_no_stripe(stripe, api):
    from datetime import datetime, timedelta, timezone

    stripe.make_host("hana")
    start = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    space = api.call("POST", "/v1/spaces", as_user="hana", body={"title": "Free", "scheduled_start": start}).json
    before = len(stripe.wire.requests)
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    assert len(stripe.wire.requests) == before
