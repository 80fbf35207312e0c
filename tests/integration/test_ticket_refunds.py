"""Canceling a ticketed Space answers at once and queues its refunds; the queue's consumer
refunds every paid ticket exactly once (reverse_transfer, refund_application_fee, deterministic
keys), a bounded page per message, and a failed page is retried (then dead-lettered) and resumes
where it stopped. The queue is drained here by the same local runner ``make up`` uses."""
from __future__ import annotations

from datetime import UTC

import pytest

from chalicelib.domain.pages import PageRequest
from tests.helpers import container, dead_letters, queue_messages, space_item

pytestmark = [pytest.mark.stripe, pytest.mark.usefixtures("refusals_change_nothing")]


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
    repo = container().ticket_repo
    return {t["ticket_id"]: repo.require(t["space_id"], t["ticket_id"]).status for t in tickets}


def queued_refund_jobs() -> list[dict]:
    """The refund jobs waiting on the work queue (peeked: they stay visible)."""
    return [m for m in queue_messages("airwaves-jobs", VisibilityTimeout=0) if m["kind"] == "refunds"]


def cancel(api, space_id: str):
    res = api.call("DELETE", f"/v1/spaces/{space_id}", as_user="hana")
    assert res.status_code == 200 and res.json["state"] == "canceled", res.json
    return res


def test_the_cancel_request_makes_no_stripe_call_and_queues_one_refund_job(stripe, api, sold):
    space, paid, pending = sold
    before = len(stripe.wire.requests)
    cancel(api, space["id"])
    assert stripe.wire.requests[before:] == []  # no refund, no PaymentIntent cancel in the request
    assert queued_refund_jobs() == [{"kind": "refunds", "space_id": space["id"], "cursor": None}]
    assert set(statuses(api, paid).values()) == {"paid"}  # refunded as the queue drains
    assert statuses(api, [pending]) == {pending["ticket_id"]: "pending"}


def test_the_queue_refunds_every_paid_ticket_once_and_releases_pending_holds(stripe, api, sold, runner):
    space, paid, pending = sold
    cancel(api, space["id"])
    runner.drain()

    refunds = refund_requests(stripe)
    assert sorted(r.idempotency_key for r in refunds) == sorted(f"ticket:{t['ticket_id']}:refund" for t in paid)
    for r in refunds:
        assert r.params["reverse_transfer"] == "true" and r.params["refund_application_fee"] == "true"
        assert r.params["payment_intent"] and r.params["metadata[ticket_id]"]
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert statuses(api, [pending]) == {pending["ticket_id"]: "canceled"}
    [pi_cancel] = stripe.wire.to("POST", f"/v1/payment_intents/{pending['payment_intent_id']}/cancel")
    assert pi_cancel.idempotency_key == f"ticket:{pending['ticket_id']}:cancel"

    meta = space_item(space["id"])
    assert (meta["seats_held"], meta["ticket"]["sold"], meta["subscriber_count"]) == (0, 0, 0)
    payouts = api.call("GET", "/v1/me/payouts", as_user="hana").json
    assert payouts["lifetime_gross_cents"] == 0 and payouts["tickets_refunded"] == 3
    assert sorted(s["kind"] for s in payouts["sales"]) == ["refund"] * 3 + ["sale"] * 3
    assert queued_refund_jobs() == [] and dead_letters() == []


def test_refunds_go_a_bounded_page_per_message(stripe, api, sold, runner, monkeypatch):
    space, paid, pending = sold
    monkeypatch.setattr(container().settings, "refund_page_size", 1)
    tickets = container().tickets
    real = tickets.refund_page
    pages = []  # (position, limit, Stripe refund calls the page made)

    def recorded(space_id, page):
        before = len(refund_requests(stripe))
        after = real(space_id, page)
        pages.append((page.start, page.limit, len(refund_requests(stripe)) - before))
        return after

    monkeypatch.setattr(tickets, "refund_page", recorded)
    cancel(api, space["id"])
    runner.drain()
    assert len(pages) >= 4  # four tickets, one per message (and maybe an empty last page)
    assert pages[0][0] is None and all(p[0]["SK"].startswith("TICKET#") for p in pages[1:])
    assert len({p[0]["SK"] for p in pages[1:]}) == len(pages) - 1  # each message moved on
    assert {p[1] for p in pages} == {1} and all(p[2] <= 1 for p in pages)
    assert sorted(r.idempotency_key for r in refund_requests(stripe)) == sorted(
        f"ticket:{t['ticket_id']}:refund" for t in paid)
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert statuses(api, [pending]) == {pending["ticket_id"]: "canceled"}


def test_a_retried_cancel_requeues_harmlessly_and_refunds_nothing_twice(stripe, api, sold, runner):
    space, paid, _ = sold
    cancel(api, space["id"])
    cancel(api, space["id"])  # retried before the queue got to it: two jobs
    runner.drain()
    assert len(refund_requests(stripe)) == 3
    cancel(api, space["id"])  # and after
    runner.drain()
    assert len(refund_requests(stripe)) == 3
    assert set(statuses(api, paid).values()) == {"refunded"}
    entries = container().payout_repo.ledger_page("hana", PageRequest(None, 100)).items
    assert sorted(e.kind for e in entries) == ["refund"] * 3 + ["sale"] * 3


def test_a_failure_midway_is_retried_from_where_it_stopped(stripe, api, sold, runner, monkeypatch):
    space, paid, _ = sold
    monkeypatch.setattr(container().settings, "refund_page_size", 1)
    order = sorted(t["ticket_id"] for t in paid)  # pages follow the ticket keys
    stuck = order[1]
    failures = iter([True])  # Stripe fails once on the second ticket, then recovers
    stripe.wire.fail_when = lambda r: (r.path == "/v1/refunds" and r.params.get("metadata[ticket_id]") == stuck
                                       and next(failures, False))
    cancel(api, space["id"])
    runner.drain(visibility_timeout=0)
    keys = [r.idempotency_key for r in refund_requests(stripe)]
    # the first ticket once; the stuck one twice (same key); the last only after it succeeded
    assert keys == [f"ticket:{order[0]}:refund", f"ticket:{stuck}:refund", f"ticket:{stuck}:refund",
                    f"ticket:{order[2]}:refund"]
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert dead_letters() == []
    assert container().payout_repo.earnings("hana").lifetime_gross_cents == 0


def test_a_refund_that_keeps_failing_is_dead_lettered_and_a_retried_cancel_finishes_it(stripe, api, sold, runner):
    space, paid, _ = sold
    stuck = paid[1]["ticket_id"]
    stripe.wire.fail_when = lambda r: r.path == "/v1/refunds" and r.params.get("metadata[ticket_id]") == stuck
    cancel(api, space["id"])
    runner.drain(visibility_timeout=0)
    st = statuses(api, paid)
    assert st[stuck] == "paid" and [v for k, v in st.items() if k != stuck] == ["refunded", "refunded"]
    assert dead_letters() == [{"kind": "refunds", "space_id": space["id"], "cursor": None}]
    others = [r for r in refund_requests(stripe) if r.params["metadata[ticket_id]"] != stuck]
    assert len(others) == 2  # every retry of the page skipped the tickets it had refunded

    stripe.wire.fail_when = None
    calls_before = len(refund_requests(stripe))
    cancel(api, space["id"])
    runner.drain()
    new = refund_requests(stripe)[calls_before:]
    assert [r.idempotency_key for r in new] == [f"ticket:{stuck}:refund"]  # only the one left
    assert set(statuses(api, paid).values()) == {"refunded"}
    assert container().payout_repo.earnings("hana").lifetime_gross_cents == 0


def test_a_crash_after_stripe_refunded_but_before_we_stored_it_reuses_the_same_key(
        stripe, api, sold, runner, monkeypatch):
    """Stripe's refund went through, our write failed: the retried message sends the same key
    (Stripe returns the same refund) and records it once."""
    from chalicelib.domain.errors import UpstreamUnavailable

    space, paid, _ = sold
    repo = container().tickets.tickets
    real = repo.mark_refunded
    target = paid[0]["ticket_id"]
    crashes = iter([True])

    def crash_once(ticket, now, refund_id):
        if ticket.id == target and next(crashes, False):
            raise UpstreamUnavailable("the database is busy; try again")
        return real(ticket, now, refund_id)

    monkeypatch.setattr(repo, "mark_refunded", crash_once)
    cancel(api, space["id"])
    runner.drain(visibility_timeout=0)
    keys = [r.idempotency_key for r in refund_requests(stripe)]
    assert keys.count(f"ticket:{target}:refund") == 2  # same key both times: one refund at Stripe
    assert len(keys) == 4
    assert set(statuses(api, paid).values()) == {"refunded"}
    entries = container().payout_repo.ledger_page("hana", PageRequest(None, 100)).items
    assert [e.kind for e in entries if e.ticket_id == target].count("refund") == 1


def test_the_no_show_rule_cancels_through_the_same_path(stripe, api, sold, runner):
    space, paid, _ = sold
    container().spaces.cancel(None, space["id"])
    assert refund_requests(stripe) == []
    container().spaces.cancel(None, space["id"])  # Scheduler's retry
    runner.drain()
    assert len(refund_requests(stripe)) == 3
    assert set(statuses(api, paid).values()) == {"refunded"}


def test_a_cancel_whose_refund_job_cannot_be_queued_is_503_and_its_retry_queues_it(
        stripe, api, sold, runner, monkeypatch):
    from chalicelib.adapters.queue import SqsQueue
    from chalicelib.domain.errors import UpstreamUnavailable

    space, paid, _ = sold
    real = SqsQueue.send

    def refuse_refunds(self, messages):
        if any(m.kind == "refunds" for m in messages):
            raise UpstreamUnavailable("the work queue failed (send_message_batch)")
        return real(self, messages)

    monkeypatch.setattr(SqsQueue, "send", refuse_refunds)
    res = api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana")
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    assert container().spaces.get(space["id"]).state.value == "canceled"
    monkeypatch.setattr(SqsQueue, "send", real)
    cancel(api, space["id"])
    runner.drain()
    assert len(refund_requests(stripe)) == 3
    assert set(statuses(api, paid).values()) == {"refunded"}


@pytest.mark.parametrize("drained_first", [True, False])
def test_a_payment_that_succeeds_after_the_cancel_is_refunded(stripe, api, sold, runner, drained_first):
    space, _paid, pending = sold
    cancel(api, space["id"])
    if drained_first:
        runner.drain()
    res = stripe.pay(pending)
    assert res.json["outcome"] == "refunded_no_seat"
    runner.drain()
    assert statuses(api, [pending]) == {pending["ticket_id"]: "refunded"}
    keys = [r.idempotency_key for r in refund_requests(stripe)]
    assert keys.count(f"ticket:{pending['ticket_id']}:refund") == 1 and len(keys) == 4
    meta = space_item(space["id"])
    assert (meta["seats_held"], meta["ticket"]["sold"]) == (0, 0)


def test_stripes_refund_webhooks_after_our_refunds_change_nothing(stripe, api, sold, runner):
    space, paid, _ = sold
    cancel(api, space["id"])
    runner.drain()
    for t in paid:
        assert stripe.refund_event(t).json["outcome"] == "already_refunded"
    entries = container().payout_repo.ledger_page("hana", PageRequest(None, 100)).items
    assert sorted(e.kind for e in entries) == ["refund"] * 3 + ["sale"] * 3


@pytest.mark.parametrize("who", ["b1", "stranger"])
def test_only_the_host_cancels_a_ticketed_space_and_a_refused_cancel_refunds_nothing(stripe, api, sold, runner, who):
    from tests.helpers import assert_refused

    space, paid, _ = sold
    api.make_user("stranger", 0)
    assert_refused(api.call("DELETE", f"/v1/spaces/{space['id']}", as_user=who), 403, "forbidden")
    assert queued_refund_jobs() == []
    runner.drain()
    assert refund_requests(stripe) == [] and set(statuses(api, paid).values()) == {"paid"}


def test_canceling_a_free_space_calls_no_stripe(stripe, api):
    from datetime import datetime, timedelta

    stripe.make_host("hana")
    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    space = api.call("POST", "/v1/spaces", as_user="hana", body={"title": "Free", "scheduled_start": start}).json
    before = len(stripe.wire.requests)
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    assert len(stripe.wire.requests) == before
    assert queued_refund_jobs() == []


# -- refunds exactly once under races --------------------------------------------------------------
# Each case below checks all four things money must agree on: every paid ticket ``refunded``, one
# refund line per ticket in the host's ledger, every counter back (seats, sold, subscribers,
# earnings), and how many refunds were asked of Stripe.
def assert_refunded_once(stripe, space, paid, *, requests_per_ticket: int = 1):
    assert set(statuses(None, paid).values()) == {"refunded"}
    entries = container().payout_repo.ledger_page("hana", PageRequest(None, 100)).items
    for t in paid:
        assert sorted(e.kind for e in entries if e.ticket_id == t["ticket_id"]) == ["refund", "sale"], t
    assert len(entries) == 2 * len(paid)
    earned = container().payout_repo.earnings("hana")
    assert (earned.lifetime_gross_cents, earned.platform_fee_cents, earned.host_net_cents,
            earned.tickets_sold, earned.tickets_refunded) == (0, 0, 0, len(paid), len(paid))
    meta = space_item(space["id"])
    assert (meta["ticket"]["sold"], meta["subscriber_count"]) == (0, 0)
    keys = [r.idempotency_key for r in refund_requests(stripe)]
    assert sorted(keys) == sorted(f"ticket:{t['ticket_id']}:refund" for t in paid for _ in range(requests_per_ticket))


def test_a_charge_refunded_webhook_between_our_refund_call_and_its_record_counts_once(
        stripe, api, sold, runner, monkeypatch):
    """Stripe may deliver ``charge.refunded`` before our own write of the refund: the webhook
    refunds the ticket, and our write then finds it no longer paid and books nothing."""
    space, paid, _ = sold
    gateway = container().tickets.gateway
    real = gateway.refund_payment
    by_id = {t["ticket_id"]: t for t in paid}
    outcomes = []

    def refund_then_webhook(*, ticket_id, payment_intent_id, duplicate=False):
        refund_id = real(ticket_id=ticket_id, payment_intent_id=payment_intent_id, duplicate=duplicate)
        outcomes.append(stripe.refund_event(by_id[ticket_id]).json["outcome"])
        return refund_id

    monkeypatch.setattr(gateway, "refund_payment", refund_then_webhook)
    cancel(api, space["id"])
    runner.drain()
    assert outcomes == ["refunded"] * 3
    assert_refunded_once(stripe, space, paid)
    assert space_item(space["id"])["seats_held"] == 0
    assert queued_refund_jobs() == [] and dead_letters() == []


def test_two_consumers_on_the_same_refund_page_refund_each_ticket_once(
        stripe, api, sold, runner, monkeypatch):
    """Two deliveries of one page (SQS delivers at least once; a retried cancel queues another)
    run at the same moment. Each ticket is asked of Stripe once: a consumer that finds another
    one refunding a ticket leaves it, and its message is retried. Every refund call waits until
    the other consumer has reached the same ticket, so each ticket is contested."""
    import threading
    from collections import Counter

    from chalicelib.domain.jobs import RefundsPage
    from tests.helpers import race

    space, paid, pending = sold
    tickets = container().tickets
    claims, real_claim, real_refund = Counter(), tickets.refund_claims.claim, tickets.gateway.refund_payment
    reached = threading.Condition()

    def counted_claim(source, ticket_id, **kw):
        with reached:
            claims[ticket_id] += 1
            reached.notify_all()
        return real_claim(source, ticket_id, **kw)

    def refund_when_contested(*, ticket_id, **kw):
        with reached:
            assert reached.wait_for(lambda: claims[ticket_id] >= 2, timeout=10), ticket_id
        return real_refund(ticket_id=ticket_id, **kw)

    monkeypatch.setattr(tickets.refund_claims, "claim", counted_claim)
    monkeypatch.setattr(tickets.gateway, "refund_payment", refund_when_contested)
    cancel(api, space["id"])
    jobs = container().background_jobs
    _, errors, other = race(2, lambda _: jobs.run(RefundsPage(space_id=space["id"])))
    assert other == [] and claims == {t["ticket_id"]: 2 for t in paid}
    assert errors and all((e.status, e.code) == (503, "upstream_unavailable") for e in errors), errors
    assert_refunded_once(stripe, space, paid)
    assert statuses(api, [pending]) == {pending["ticket_id"]: "canceled"}
    runner.drain()  # the queued message itself, later: nothing left to do
    assert_refunded_once(stripe, space, paid)
    assert space_item(space["id"])["seats_held"] == 0 and dead_letters() == []


def test_stripe_answering_already_refunded_books_the_refund_once(stripe, api, sold, runner):
    """The charge was refunded on Stripe's side already (from the dashboard, or a key Stripe no
    longer remembers): Stripe answers ``charge_already_refunded``, the ticket is refunded all the
    same, once, and the webhook that follows changes nothing."""
    space, paid, _ = sold
    first = paid[0]["ticket_id"]
    stripe.wire.answer_when = lambda r: (400, {"error": {
        "type": "invalid_request_error", "code": "charge_already_refunded",
        "message": "Charge ch_x has already been refunded."}}) if (
        r.path == "/v1/refunds" and r.params.get("metadata[ticket_id]") == first) else None
    cancel(api, space["id"])
    runner.drain()
    assert container().ticket_repo.require(space["id"], first).refund_id is None
    assert_refunded_once(stripe, space, paid)
    assert stripe.refund_event(paid[0]).json["outcome"] == "already_refunded"
    assert_refunded_once(stripe, space, paid)
    assert dead_letters() == []


def test_a_charge_refunded_without_our_metadata_finds_the_ticket_by_its_payment(stripe, api, sold):
    """A refund made outside our app (the dashboard) sends a charge without our metadata: the
    ticket is found from its PaymentIntent (whose metadata Stripe returns), refunded once."""
    space, paid, _ = sold
    t = paid[0]
    intent = f"/v1/payment_intents/{t['payment_intent_id']}"
    stripe.wire.answer_when = lambda r: (200, {
        "id": t["payment_intent_id"], "object": "payment_intent", "amount": t["amount_cents"],
        "currency": t["currency"], "status": "succeeded",
        "metadata": {"ticket_id": t["ticket_id"], "space_id": t["space_id"]}}) if (
        r.method == "GET" and r.path == intent) else None
    res = stripe.refund_event(t, fields={"metadata": {}})
    assert res.json["outcome"] == "refunded"
    assert len(stripe.wire.to("GET", intent)) == 1
    assert stripe.refund_event(t, fields={"metadata": {}}).json["outcome"] == "already_refunded"
    assert statuses(api, paid) == {t["ticket_id"]: "refunded", paid[1]["ticket_id"]: "paid",
                                   paid[2]["ticket_id"]: "paid"}
    entries = container().payout_repo.ledger_page("hana", PageRequest(None, 100)).items
    assert sorted(e.kind for e in entries) == ["refund"] + ["sale"] * 3
    earned = container().payout_repo.earnings("hana")
    assert (earned.lifetime_gross_cents, earned.tickets_refunded) == (2 * t["amount_cents"], 1)
    meta = space_item(space["id"])
    assert (meta["seats_held"], meta["ticket"]["sold"], meta["subscriber_count"]) == (3, 2, 2)
    assert refund_requests(stripe) == []  # the money went back already: we ask Stripe for nothing


@pytest.mark.parametrize("intent", ["pi_not_one_of_ours", None])
def test_a_charge_refunded_without_our_metadata_for_another_payment_changes_nothing(stripe, api, sold, intent):
    from tests.helpers import table_changes, table_snapshot

    _space, paid, _ = sold
    before = table_snapshot()
    res = stripe.refund_event(dict(paid[0], payment_intent_id=intent), fields={"metadata": {}})
    assert res.json["outcome"] == "ignored_not_ours"
    assert [k for k in table_changes(before) if not k[0].startswith("EVENT#")] == []
    assert set(statuses(api, paid).values()) == {"paid"} and refund_requests(stripe) == []
