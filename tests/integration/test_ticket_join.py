"""Joining a live ticketed Space needs a paid ticket; the host, co-hosts and invited speakers are
excepted. The ticket state comes from real purchases and signed webhooks (stripe-mock)."""
from __future__ import annotations

import pytest

from tests.helpers import assert_refused

pytestmark = [pytest.mark.stripe, pytest.mark.usefixtures("refusals_change_nothing")]


@pytest.fixture
def live_ticketed(stripe, api):
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", quantity=5)
    paid = stripe.buy("payer", space["id"])
    stripe.pay(paid)
    pending = stripe.buy("waiter", space["id"])
    for user in ("nobody", "cohost", "speaker"):
        api.make_user(user, followers=0)
    assert api.call("PUT", f"/v1/spaces/{space['id']}/cohosts/cohost", as_user="hana").status_code == 200
    assert api.call("PUT", f"/v1/spaces/{space['id']}/speakers/speaker", as_user="hana").status_code == 200
    started = api.call("POST", f"/v1/spaces/{space['id']}/start", as_user="hana")
    assert started.status_code == 200, started.body
    return space, paid, pending


def join(api, space_id: str, user: str):
    return api.call("POST", f"/v1/spaces/{space_id}/join", as_user=user)


def test_a_paid_ticket_lets_a_listener_join(stripe, api, live_ticketed):
    space, _, _ = live_ticketed
    res = join(api, space["id"], "payer")
    assert res.status_code == 200, res.body
    assert res.json["role"] == "listener" and res.json["token"]


@pytest.mark.parametrize("user", ["nobody", "waiter"])
def test_no_ticket_or_a_pending_one_is_403_ticket_required(stripe, api, live_ticketed, user):
    space, _, _ = live_ticketed
    res = join(api, space["id"], user)
    assert_refused(res, 403, "ticket_required")


@pytest.mark.parametrize("user, role", [("hana", "host"), ("cohost", "cohost"), ("speaker", "speaker")])
def test_the_host_cohosts_and_invited_speakers_join_without_a_ticket(stripe, api, live_ticketed, user, role):
    space, _, _ = live_ticketed
    res = join(api, space["id"], user)
    assert res.status_code == 200, res.body
    assert res.json["role"] == role


def test_a_refunded_ticket_no_longer_admits(stripe, api, live_ticketed):
    space, paid, _ = live_ticketed
    assert join(api, space["id"], "payer").status_code == 200
    assert stripe.refund_event(paid).json["outcome"] == "refunded"
    res = join(api, space["id"], "payer")
    assert_refused(res, 403, "ticket_required")


def test_a_ticket_paid_while_live_admits_at_once(stripe, api, live_ticketed):
    space, _, pending = live_ticketed
    assert_refused(join(api, space["id"], "waiter"), 403)
    stripe.pay(pending)
    assert join(api, space["id"], "waiter").status_code == 200


def test_a_ticket_to_another_space_does_not_admit(stripe, api, live_ticketed):
    space, _, _ = live_ticketed
    other = stripe.ticketed_space("hana", quantity=5)
    t = stripe.buy("nobody", other["id"], make_user=False)
    stripe.pay(t)
    res = join(api, space["id"], "nobody")
    assert_refused(res, 403, "ticket_required")


def test_someone_removed_from_the_space_cannot_buy_a_ticket(stripe, api, live_ticketed):
    """Join would refuse them and nothing would refund them: the purchase is refused instead."""
    space, _, _ = live_ticketed
    removed = api.call("POST", f"/v1/spaces/{space['id']}/participants/nobody/remove", as_user="hana")
    assert removed.status_code == 200, removed.body
    res = api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user="nobody")
    assert_refused(res, 403, "banned")
    opened = stripe.wire.to("POST", "/v1/payment_intents")
    assert all(r.params.get("metadata[buyer_id]") != "nobody" for r in opened), "no payment was opened"
    mine = api.call("GET", "/v1/me/tickets", as_user="nobody").json["items"]
    assert mine == []


def participants(api, space_id: str, user: str):
    return api.call("GET", f"/v1/spaces/{space_id}/participants", as_user=user)


@pytest.mark.parametrize("user", ["nobody", "waiter"])
def test_the_participant_list_needs_a_ticket_like_joining(stripe, api, live_ticketed, user):
    space, _, _ = live_ticketed
    res = participants(api, space["id"], user)
    assert_refused(res, 403, "ticket_required")
    assert "host" not in res.json and "speakers" not in res.json


@pytest.mark.parametrize("user", ["payer", "hana", "cohost", "speaker"])
def test_ticket_holders_and_the_stage_see_the_participant_list(stripe, api, live_ticketed, user):
    space, _, _ = live_ticketed
    res = participants(api, space["id"], user)
    assert res.status_code == 200, res.body
    assert res.json["host"]["user_id"] == "hana"


def test_someone_removed_cannot_read_the_participant_list_even_with_a_ticket(stripe, api, live_ticketed):
    space, _, _ = live_ticketed
    assert participants(api, space["id"], "payer").status_code == 200
    removed = api.call("POST", f"/v1/spaces/{space['id']}/participants/payer/remove", as_user="hana")
    assert removed.status_code == 200, removed.body
    res = participants(api, space["id"], "payer")
    assert_refused(res, 403, "banned")
