"""Claims that cannot be stranded, proven on a real process killed between claim and completion.

The API runs in its own process (``api_process``) against moto's server (its own process, so the
table survives), stripe-mock and livekit-server, with a 2-second claim lease. A fault point
(``AIRWAVES_FAULT_KILL_AT``, set only on that child) SIGKILLs it right after a claim is written:
no exception handler runs, exactly as when Lambda times out. Then the client (or Stripe) retries.

| fault                                    | the caller sees                    | stored afterwards                     |
|------------------------------------------|------------------------------------|---------------------------------------|
| killed after claiming a Stripe event     | connection lost; retry: 409 while  | ticket ``paid`` once: 1 seat held,    |
|                                          | the lease lives, then 200 ``paid`` | 1 sold, 1 sale line; then "duplicate" |
| killed after claiming an Idempotency-Key | connection lost; retry: 409, then  | one pending ticket, one seat held;    |
|                                          | 201; next retry replays it         | replay byte-identical                 |
| killed after the work, before completion | connection lost; retry: 200 with   | still one ticket, one seat held       |
|                                          | the same ticket (work re-run)      |                                       |
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.faults.http_api import HttpApi, HttpResponse
from tests.fixtures_stripe import StripeKit

pytestmark = [pytest.mark.stripe, pytest.mark.livekit]


def until_not_in_progress(send, timeout: float = 20) -> tuple[HttpResponse, int]:
    """Retry as a client (or Stripe) would: while the claim's lease lives the answer is 409."""
    deadline, conflicts = time.monotonic() + timeout, 0
    while True:
        res = send()
        if res.status_code != 409 or time.monotonic() > deadline:
            return res, conflicts
        conflicts += 1
        time.sleep(0.25)


def lost(send) -> bool:
    try:
        send()
    except requests.ConnectionError:
        return True
    return False


@pytest.fixture(scope="module")
def world(api_process, stripe_mock):
    api = HttpApi(api_process.url)
    kit = StripeKit(api=api, url=stripe_mock.url)
    kit.make_host("hana")
    space = kit.ticketed_space("hana", price_cents=2_000, quantity=5)
    return api, kit, space


def counters(moto_process, space_id: str) -> tuple[int, int]:
    """(seats held, sold) as stored on the Space."""
    item = moto_process.space(space_id)
    return int(item.get("seats_held", 0)), int(item["ticket"]["sold"])


def my_tickets(api: HttpApi, buyer: str) -> list[dict]:
    return api.call("GET", "/v1/me/tickets", as_user=buyer).json["items"]


def test_a_stripe_event_whose_process_died_after_its_claim_is_handled_on_redelivery(api_process, moto_process, world):
    api, kit, space = world
    ticket = kit.buy("bo", space["id"])
    assert counters(moto_process, space["id"]) == (1, 0)
    payload = kit.event("payment_intent.succeeded", {
        "id": ticket["payment_intent_id"], "object": "payment_intent", "amount": ticket["amount_cents"],
        "amount_received": ticket["amount_cents"],
        "currency": ticket["currency"], "status": "succeeded",
        "metadata": {"ticket_id": ticket["ticket_id"], "space_id": space["id"]}})

    def deliver() -> HttpResponse:  # Stripe signs each delivery afresh
        return kit.post(payload, kit.sign(payload, kit.secret))

    api_process.start(kill_at="webhook.claimed")
    assert lost(deliver) and api_process.died_by_sigkill(), api_process.log_tail()
    api_process.start()
    assert [t["status"] for t in my_tickets(api, "bo")] == ["pending"]  # the claim was written, no work done

    res, _ = until_not_in_progress(deliver)
    assert res.status_code == 200 and res.json["outcome"] == "paid", res.body
    assert [t["status"] for t in my_tickets(api, "bo")] == ["paid"]
    assert counters(moto_process, space["id"]) == (1, 1)
    again = deliver()
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert [t["status"] for t in my_tickets(api, "bo")] == ["paid"]
    assert counters(moto_process, space["id"]) == (1, 1)
    earnings = api.call("GET", "/v1/me/payouts", as_user="hana").json
    assert (earnings["lifetime_gross_cents"], earnings["tickets_sold"], len(earnings["sales"])) == (2_000, 1, 1), earnings


def test_an_idempotency_key_whose_process_died_after_its_claim_succeeds_on_retry(api_process, moto_process, world):
    api, _kit, space = world
    api.make_user("cy", followers=0)

    def buy() -> HttpResponse:
        return api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user="cy", headers={"Idempotency-Key": "buy-1"})

    api_process.start(kill_at="idempotency.claimed")
    assert lost(buy) and api_process.died_by_sigkill(), api_process.log_tail()
    api_process.start()
    assert my_tickets(api, "cy") == []

    res, _ = until_not_in_progress(buy)
    assert res.status_code == 201, res.body
    replay = buy()
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.body == res.body
    assert [(t["ticket_id"], t["status"]) for t in my_tickets(api, "cy")] == [(res.json["ticket_id"], "pending")]
    assert counters(moto_process, space["id"]) == (2, 1)  # bo's paid seat and cy's hold


def test_an_idempotency_key_whose_process_died_after_the_work_reruns_it_once(api_process, moto_process, world):
    api, _kit, space = world
    api.make_user("dee", followers=0)

    def buy() -> HttpResponse:
        return api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user="dee", headers={"Idempotency-Key": "buy-1"})

    api_process.start(kill_at="idempotency.ran")
    assert lost(buy) and api_process.died_by_sigkill(), api_process.log_tail()
    api_process.start()
    held = my_tickets(api, "dee")
    assert [t["status"] for t in held] == ["pending"]  # the work happened; its completion was never written

    res, _ = until_not_in_progress(buy)
    assert res.status_code == 200 and res.json["ticket_id"] == held[0]["ticket_id"], res.body  # the same ticket
    assert [t["status"] for t in my_tickets(api, "dee")] == ["pending"]
    assert counters(moto_process, space["id"]) == (3, 1)
