"""``POST /v1/webhooks/stripe``: signatures checked by the SDK on the raw body, dedupe by event
id, order-proof state changes, tickets found by our id in the metadata."""
from __future__ import annotations

import json
import time
from datetime import UTC

import pytest

from chalicelib.domain.pages import PageRequest
from tests.helpers import container, space_item

pytestmark = [pytest.mark.stripe, pytest.mark.usefixtures("refusals_change_nothing")]


@pytest.fixture
def sale(stripe):
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", price_cents=2_000, quantity=2)
    ticket = stripe.buy("bo", space["id"])
    return space, ticket


def ticket_status(api, buyer: str, ticket_id: str) -> str:
    items = api.call("GET", "/v1/me/tickets", as_user=buyer).json["items"]
    return {i["ticket_id"]: i["status"] for i in items}[ticket_id]


def counters(space_id: str) -> tuple[int, int, int]:
    meta = space_item(space_id)
    return meta.get("seats_held", 0), meta["ticket"]["sold"], meta.get("subscriber_count", 0)


def earnings(host: str) -> dict:
    return container().payout_repo.earnings(host).model_dump()


def ledger_kinds(host: str) -> list[str]:
    entries = container().payout_repo.ledger_page(host, PageRequest(None, 100)).items
    return sorted(e.kind for e in entries)


def succeeded(space: dict, t: dict) -> dict:
    """The PaymentIntent of a ticket's ``payment_intent.succeeded``, as Stripe sends it."""
    return {"id": t["payment_intent_id"], "object": "payment_intent", "amount": t["amount_cents"],
            "amount_received": t["amount_cents"], "currency": t["currency"],
            "metadata": {"ticket_id": t["ticket_id"], "space_id": space["id"]}}


# -- signatures -------------------------------------------------------------------------------
def test_a_correctly_signed_success_makes_the_ticket_paid(stripe, api, sale):
    space, t = sale
    res = stripe.pay(t)
    assert res.json["outcome"] == "paid" and res.json["received"] is True
    assert ticket_status(api, "bo", t["ticket_id"]) == "paid"
    assert counters(space["id"]) == (1, 1, 1)
    assert earnings("hana")["lifetime_gross_cents"] == 2_000
    assert ledger_kinds("hana") == ["sale"]


def test_missing_signature_is_401_and_changes_nothing(stripe, api, sale):
    space, t = sale
    payload = stripe.event("payment_intent.succeeded", succeeded(space, t))
    res = stripe.post(payload, None)
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated"
    assert res.json["error"]["details"] == [{"field": "Stripe-Signature", "message": "is missing"}]
    assert ticket_status(api, "bo", t["ticket_id"]) == "pending"


@pytest.mark.parametrize("how", ["wrong_secret", "tampered_body", "stale_timestamp", "garbage_header"])
def test_a_bad_signature_is_401_and_changes_nothing(stripe, api, sale, how):
    space, t = sale
    payload = stripe.event("payment_intent.succeeded", succeeded(space, t))
    signature = stripe.sign(payload, stripe.secret)
    if how == "wrong_secret":
        signature = stripe.sign(payload, "whsec_someone_else")
    elif how == "tampered_body":
        payload = payload.replace(b'"livemode": false', b'"livemode": true')
    elif how == "stale_timestamp":
        signature = stripe.sign(payload, stripe.secret, timestamp=int(time.time()) - 3600)
    else:
        signature = "not-a-signature"
    res = stripe.post(payload, signature)
    assert res.status_code == 401, res.body
    assert res.json["error"]["details"][0]["field"] == "Stripe-Signature"
    assert ticket_status(api, "bo", t["ticket_id"]) == "pending"


def test_the_signature_covers_the_raw_bytes_not_reparsed_json(stripe, api, sale):
    """Whitespace differences matter: the check is on the body as sent."""
    space, t = sale
    payload = stripe.event("payment_intent.succeeded", succeeded(space, t))
    signature = stripe.sign(payload, stripe.secret)
    compact = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    assert stripe.post(compact, signature).status_code == 401
    assert stripe.post(payload, signature).status_code == 200


def test_a_signed_body_that_is_not_json_is_400(stripe, api):
    payload = b"this is not json"
    res = stripe.post(payload, stripe.sign(payload, stripe.secret))
    assert res.status_code == 400 and res.json["error"]["code"] == "validation_error"


@pytest.mark.parametrize("body", [b"[]", b'[{"id": "evt_1", "type": "payment_intent.succeeded"}]', b"3", b'"x"',
                                  b"null", b"\xff\xfe"])
def test_a_signed_body_that_is_json_but_not_an_object_is_400(stripe, api, body):
    res = stripe.post(body, stripe.sign(body, stripe.secret))
    assert res.status_code == 400, res.body
    assert res.json["error"]["code"] == "validation_error"
    assert res.json["error"]["details"] == [{"field": "body", "message": "is not a Stripe event"}]


def test_events_for_other_objects_or_types_are_acknowledged_and_ignored(stripe, api, sale):
    space, t = sale
    res = stripe.send("payment_intent.succeeded", {"id": "pi_other", "object": "payment_intent", "metadata": {}})
    assert res.status_code == 200 and res.json["outcome"] == "ignored_not_ours"
    res = stripe.send("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent",
                                                   "metadata": {"ticket_id": "tk_nope", "space_id": space["id"]}})
    assert res.status_code == 200 and res.json["outcome"] == "mismatch_unknown_ticket"
    res = stripe.send("customer.created", {"id": "cus_1", "object": "customer"})
    assert res.status_code == 200 and res.json["outcome"] == "ignored_type"
    assert ticket_status(api, "bo", t["ticket_id"]) == "pending"


# -- duplicates and order -----------------------------------------------------------------------
def test_a_duplicate_delivery_counts_once(stripe, api, sale):
    space, t = sale
    payload = stripe.event("payment_intent.succeeded", succeeded(space, t))
    first = stripe.post(payload, stripe.sign(payload, stripe.secret))
    second = stripe.post(payload, stripe.sign(payload, stripe.secret))
    assert (first.json["outcome"], second.json["outcome"]) == ("paid", "duplicate")
    assert counters(space["id"]) == (1, 1, 1)
    assert earnings("hana")["lifetime_gross_cents"] == 2_000 and ledger_kinds("hana") == ["sale"]


def test_the_same_success_under_a_new_event_id_still_counts_once(stripe, api, sale):
    """Dedupe by id is the first guard; the conditional state change is the second."""
    space, t = sale
    stripe.pay(t)
    res = stripe.pay(t)
    assert res.json["outcome"] == "already_paid"
    assert counters(space["id"]) == (1, 1, 1) and ledger_kinds("hana") == ["sale"]


def test_a_late_failure_never_unpays(stripe, api, sale):
    space, t = sale
    stripe.pay(t)
    for kind in ("payment_intent.payment_failed", "payment_intent.canceled"):
        res = stripe.payment_event(kind, t)
        assert res.status_code == 200 and res.json["outcome"] == "ignored_paid"
    assert ticket_status(api, "bo", t["ticket_id"]) == "paid"
    assert counters(space["id"]) == (1, 1, 1)


@pytest.mark.parametrize("kind, status", [("payment_intent.payment_failed", "failed"),
                                          ("payment_intent.canceled", "canceled")])
def test_a_failed_or_canceled_payment_releases_the_seat(stripe, api, sale, kind, status):
    space, t = sale
    res = stripe.payment_event(kind, t)
    assert res.json["outcome"] == "released"
    assert ticket_status(api, "bo", t["ticket_id"]) == status
    assert counters(space["id"]) == (0, 0, 0)
    again = stripe.payment_event(kind, t)  # a repeat releases nothing twice
    assert again.json["outcome"] == f"ignored_{status}" and counters(space["id"]) == (0, 0, 0)


def test_success_after_a_failure_takes_the_seat_again(stripe, api, sale):
    """payment_failed is not final in Stripe (the buyer may retry another card)."""
    space, t = sale
    stripe.payment_event("payment_intent.payment_failed", t)
    assert stripe.pay(t).json["outcome"] == "paid"
    assert ticket_status(api, "bo", t["ticket_id"]) == "paid"
    assert counters(space["id"]) == (1, 1, 1) and ledger_kinds("hana") == ["sale"]


def test_success_after_the_seat_went_to_someone_else_is_refunded(stripe, api, sale):
    space, t = sale
    stripe.payment_event("payment_intent.payment_failed", t)
    others = [stripe.buy("b2", space["id"]), stripe.buy("b3", space["id"])]  # quantity 2: full again
    res = stripe.pay(t)
    assert res.json["outcome"] == "refunded_no_seat"
    assert ticket_status(api, "bo", t["ticket_id"]) == "refunded"
    [refund] = stripe.wire.to("POST", "/v1/refunds")
    assert refund.params["payment_intent"] == t["payment_intent_id"]
    assert refund.idempotency_key == f"ticket:{t['ticket_id']}:refund"
    assert counters(space["id"]) == (2, 0, 0)
    assert ledger_kinds("hana") == []  # no sale was ever counted for it
    assert [ticket_status(api, b, o["ticket_id"]) for b, o in zip(("b2", "b3"), others, strict=False)] == ["pending", "pending"]


def test_success_after_the_hold_expired_keeps_a_free_seat(stripe, api, sale):
    from datetime import datetime, timedelta

    space, t = sale
    tickets = container().tickets
    later = datetime.now(UTC) + tickets.hold + timedelta(seconds=1)
    tickets.clock = lambda: later
    assert tickets.release_lapsed(space["id"]) == 1
    assert counters(space["id"]) == (0, 0, 0)
    assert stripe.pay(t).json["outcome"] == "paid"
    assert counters(space["id"]) == (1, 1, 1)


def test_charge_refunded_makes_a_paid_ticket_refunded_and_moves_every_counter_back(stripe, api, sale):
    space, t = sale
    stripe.pay(t)
    res = stripe.refund_event(t)
    assert res.json["outcome"] == "refunded"
    assert ticket_status(api, "bo", t["ticket_id"]) == "refunded"
    assert counters(space["id"]) == (0, 0, 0)
    e = earnings("hana")
    assert (e["lifetime_gross_cents"], e["platform_fee_cents"], e["host_net_cents"], e["tickets_refunded"]) == (0, 0, 0, 1)
    assert ledger_kinds("hana") == ["refund", "sale"]
    assert stripe.refund_event(t).json["outcome"] == "already_refunded"
    assert ledger_kinds("hana") == ["refund", "sale"]


def test_a_partial_refund_leaves_the_ticket_paid(stripe, api, sale):
    _space, t = sale
    stripe.pay(t)
    assert stripe.refund_event(t, full=False).json["outcome"] == "ignored_partial_refund"
    assert ticket_status(api, "bo", t["ticket_id"]) == "paid"


def test_refund_arriving_before_success_wins_and_the_late_success_changes_nothing(stripe, api, sale):
    space, t = sale
    assert stripe.refund_event(t).json["outcome"] == "refunded"
    assert counters(space["id"]) == (0, 0, 0)
    assert stripe.pay(t).json["outcome"] == "already_refunded"
    assert ticket_status(api, "bo", t["ticket_id"]) == "refunded"
    assert counters(space["id"]) == (0, 0, 0) and ledger_kinds("hana") == []


def test_a_failed_handler_releases_the_event_so_stripes_retry_runs_it(stripe, api, sale, monkeypatch):
    space, t = sale
    payload = stripe.event("payment_intent.succeeded", succeeded(space, t))
    from chalicelib.domain.errors import UpstreamUnavailable

    tickets = container().tickets
    real = tickets.tickets.mark_paid

    def down(*a, **k):
        raise UpstreamUnavailable("the database is busy; try again")

    monkeypatch.setattr(tickets.tickets, "mark_paid", down)
    res = stripe.post(payload, stripe.sign(payload, stripe.secret))
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    monkeypatch.setattr(tickets.tickets, "mark_paid", real)
    retry = stripe.post(payload, stripe.sign(payload, stripe.secret))
    assert retry.status_code == 200 and retry.json["outcome"] == "paid"


def test_a_second_payment_for_a_settled_ticket_is_recorded_not_booked(stripe, api, sale):
    """Another PaymentIntent than the ticket's is not this ticket's money: nothing moves."""
    space, t = sale
    stripe.pay(t)
    stray = dict(t, payment_intent_id="pi_stray_second_payment")
    res = stripe.pay(stray)
    assert res.json["outcome"] == "mismatch_payment_intent_mismatch"
    assert not stripe.wire.to("POST", "/v1/refunds")
    assert ticket_status(api, "bo", t["ticket_id"]) == "paid"
    assert counters(space["id"]) == (1, 1, 1) and ledger_kinds("hana") == ["sale"]


@pytest.mark.parametrize("obj", [None, [], "x", {"data": 1}])
def test_odd_but_signed_event_shapes_are_acknowledged_not_500(stripe, api, obj):
    payload = json.dumps({"id": f"evt_odd_{time.time_ns()}", "object": "event", "type": "charge.refunded",
                          "created": "yesterday", "data": obj}).encode()
    res = stripe.post(payload, stripe.sign(payload, stripe.secret))
    assert res.status_code == 200, res.body


# -- money moves only on events that match ----------------------------------------------------
def anomalies() -> list:
    return container().payment_anomalies.recent()


def nothing_moved(api, space, t, status="pending", seats=(1, 0, 0), ledger=()):
    assert ticket_status(api, "bo", t["ticket_id"]) == status
    assert counters(space["id"]) == seats
    assert ledger_kinds("hana") == sorted(ledger)
    if not ledger:
        assert earnings("hana")["lifetime_gross_cents"] == 0


def test_a_success_for_another_payment_intent_and_one_yen_changes_nothing_and_is_recorded(stripe, api, sale):
    space, t = sale
    res = stripe.pay(t, fields={"id": "pi_attacker_owned", "amount": 1, "amount_received": 1, "currency": "jpy"})
    assert res.json["outcome"] == "mismatch_payment_intent_mismatch"
    nothing_moved(api, space, t)
    [a] = anomalies()
    assert (a.reason, a.ticket_id, a.space_id, a.type) == ("payment_intent_mismatch", t["ticket_id"], space["id"],
                                                          "payment_intent.succeeded")
    assert a.details == {"expected": t["payment_intent_id"], "received": "pi_attacker_owned"}
    assert not stripe.wire.to("POST", "/v1/refunds"), "no money moves for a stray PaymentIntent"


@pytest.mark.parametrize("fields, got", [({"amount_received": 1}, (1, "usd")),
                                         ({"amount_received": 1_999}, (1_999, "usd")),
                                         ({"currency": "jpy"}, (2_000, "jpy")),
                                         ({"amount_received": 0}, (0, "usd"))])
def test_the_right_payment_intent_with_another_amount_or_currency_changes_nothing(stripe, api, sale, fields, got):
    space, t = sale
    res = stripe.pay(t, fields=fields)
    assert res.json["outcome"] == "mismatch_amount_mismatch"
    nothing_moved(api, space, t)
    [a] = anomalies()
    assert a.reason == "amount_mismatch"
    assert (a.details["received_amount"], a.details["received_currency"]) == got
    assert (a.details["expected_amount"], a.details["expected_currency"]) == (2_000, "usd")


def test_the_ledger_books_what_stripe_says_was_received(stripe, api, sale):
    _space, t = sale
    assert stripe.pay(t).json["outcome"] == "paid"
    [entry] = container().payout_repo.ledger_page("hana", PageRequest(None, 10)).items
    assert (entry.kind, entry.amount_cents, entry.currency) == ("sale", 2_000, "usd")
    assert entry.host_net_cents == entry.amount_cents - entry.platform_fee_cents
    assert earnings("hana")["lifetime_gross_cents"] == 2_000


@pytest.mark.parametrize("kind", ["payment_intent.succeeded", "payment_intent.payment_failed",
                                  "payment_intent.canceled", "charge.refunded"])
def test_payment_events_on_the_connect_endpoint_are_refused(stripe, api, sale, kind):
    """Our ticket charges are destination charges on the platform: their events never come
    from a connected account, so a Connect-signed one (any account) changes nothing."""
    space, t = sale
    if kind == "charge.refunded":
        stripe.pay(t)
        res = stripe.refund_event(t, connect=True, account="acct_someone_else")
        expect = ("paid", (1, 1, 1), ("sale",))
    else:
        res = stripe.payment_event(kind, t, connect=True, account="acct_someone_else")
        expect = ("pending", (1, 0, 0), ())
    assert res.status_code == 200 and res.json["outcome"] == "mismatch_not_a_connect_event"
    nothing_moved(api, space, t, *expect)
    assert [a.reason for a in anomalies()] == ["not_a_connect_event"]
    assert anomalies()[0].endpoint == "connect"


def test_an_account_event_about_another_account_than_the_one_that_sent_it_is_refused(stripe, api):
    api.make_user("cara", followers=5000)
    account = api.call("POST", "/v1/me/payouts/onboarding", as_user="cara").json["account_id"]
    res = stripe.send("account.updated", {"id": account, "object": "account", "charges_enabled": True,
                                          "metadata": {"airwaves_user_id": "cara"}},
                      connect=True, account="acct_mallory")
    assert res.json["outcome"] == "mismatch_connect_account_mismatch"
    assert api.call("GET", "/v1/me/payouts", as_user="cara").json["charges_enabled"] is False
    assert [a.reason for a in anomalies()] == ["connect_account_mismatch"]


@pytest.mark.parametrize("intent", ["pi_unrelated_charge", None])
def test_a_refund_of_an_unrelated_charge_leaves_the_ticket_paid(stripe, api, sale, intent):
    space, t = sale
    stripe.pay(t)
    res = stripe.refund_event(dict(t, payment_intent_id=intent))
    assert res.json["outcome"] == "mismatch_payment_intent_mismatch"
    nothing_moved(api, space, t, "paid", (1, 1, 1), ("sale",))
    [a] = anomalies()
    assert a.details == {"expected": t["payment_intent_id"], "received": intent} if intent else \
        a.details == {"expected": t["payment_intent_id"]}


def test_a_refund_in_another_currency_leaves_the_ticket_paid(stripe, api, sale):
    space, t = sale
    stripe.pay(t)
    res = stripe.refund_event(t, fields={"currency": "jpy"})
    assert res.json["outcome"] == "mismatch_currency_mismatch"
    nothing_moved(api, space, t, "paid", (1, 1, 1), ("sale",))


@pytest.mark.parametrize("kind", ["payment_intent.payment_failed", "payment_intent.canceled"])
def test_a_failure_of_another_payment_intent_keeps_the_seat(stripe, api, sale, kind):
    space, t = sale
    res = stripe.payment_event(kind, t, fields={"id": "pi_someone_elses"})
    assert res.json["outcome"] == "mismatch_payment_intent_mismatch"
    nothing_moved(api, space, t)


def test_a_matching_event_after_a_mismatch_still_counts(stripe, api, sale):
    space, t = sale
    assert stripe.pay(t, fields={"amount_received": 1}).json["outcome"] == "mismatch_amount_mismatch"
    assert stripe.pay(t).json["outcome"] == "paid"
    assert counters(space["id"]) == (1, 1, 1) and ledger_kinds("hana") == ["sale"]
