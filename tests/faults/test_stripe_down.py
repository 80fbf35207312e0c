"""stripe-mock (a real process) stopped during a purchase, onboarding and a refund page:

| fault                          | the caller sees                  | stored afterwards                        |
|--------------------------------|----------------------------------|------------------------------------------|
| stopped before a purchase      | 503 ``upstream_unavailable``     | no seat held, no pending ticket; after   |
|                                | (SDK: connection refused)        | the restart the purchase holds 1 seat    |
| stopped before onboarding      | 503                              | no account; after the restart: 201 and   |
|                                |                                  | one account                              |
| stopped while a canceled       | the refund page fails (queue     | tickets still paid, no refund line; once |
| Space's refunds are queued     | retries it)                      | restarted: each ticket refunded once,    |
|                                |                                  | ledger exact, a redelivery refunds none  |
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.fixtures_stripe import StripeKit
from tests.helpers import container, space_item
from tests.processes import StartFailed, StripeMockProcess, start_stripe_mock
from tests.real_servers import unavailable

pytestmark = pytest.mark.stripe


@dataclass
class StripeProcess:
    binary: str
    workdir: object
    monkeypatch: pytest.MonkeyPatch
    current: StripeMockProcess | None = None
    starts: int = 0

    def start(self) -> None:
        """(Re)start stripe-mock (new ports each time) and point the app at it."""
        from chalicelib.container import reset_container

        self.starts += 1
        workdir = self.workdir / f"run{self.starts}"  # type: ignore[operator]
        workdir.mkdir()
        try:
            self.current = start_stripe_mock(self.binary, workdir)
        except StartFailed as exc:
            unavailable("stripe-mock", str(exc))
        self.monkeypatch.setenv("AIRWAVES_STRIPE_API_BASE", self.current.url)
        reset_container()

    def stop(self) -> None:
        if self.current is not None:
            self.current.server.stop()


@pytest.fixture
def stripe_process(stripe_mock_binary, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRWAVES_STRIPE_MAX_NETWORK_RETRIES", "0")
    process = StripeProcess(stripe_mock_binary, tmp_path, monkeypatch)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def kit(stripe_process, api, stripe_wire) -> StripeKit:
    assert stripe_process.current is not None
    made = StripeKit(api=api, url=stripe_process.current.url)
    made.wire = stripe_wire
    return made


def unavailable_answer(res) -> bool:
    return res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable" and res.json["error"]["message"]


def test_a_purchase_while_stripe_is_down_is_503_and_holds_no_seat(kit, api, stripe_process):
    kit.make_host("hana")
    space = kit.ticketed_space("hana", price_cents=1_000, quantity=1)
    api.make_user("bo", followers=0)
    stripe_process.stop()
    res = api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user="bo")
    assert unavailable_answer(res), res.body
    assert space_item(space["id"]).get("seats_held", 0) == 0
    assert [t["status"] for t in api.call("GET", "/v1/me/tickets", as_user="bo").json["items"]] in ([], ["failed"])
    stripe_process.start()
    again = api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user="bo")
    assert again.status_code == 201, again.body
    assert space_item(space["id"])["seats_held"] == 1


def test_onboarding_while_stripe_is_down_is_503_and_stores_no_account(kit, api, stripe_process):
    api.make_user("hana", followers=5000, birthdate="1990-01-01")
    stripe_process.stop()
    res = api.call("POST", "/v1/me/payouts/onboarding", as_user="hana")
    assert unavailable_answer(res), res.body
    assert api.call("GET", "/v1/me/payouts", as_user="hana").json["account_id"] is None
    stripe_process.start()
    done = api.call("POST", "/v1/me/payouts/onboarding", as_user="hana")
    assert done.status_code == 201, done.body
    again = api.call("POST", "/v1/me/payouts/onboarding", as_user="hana")
    assert again.json["account_id"] == done.json["account_id"]
    accounts = list(kit.wire.to("POST", "/v1/accounts"))  # type: ignore[union-attr]
    assert len({r.idempotency_key for r in accounts}) == 1


def test_refunds_queued_while_stripe_is_down_resume_later_exactly_once(kit, api, stripe_process, runner):
    kit.make_host("hana")
    space = kit.ticketed_space("hana", price_cents=1_500, quantity=5)
    paid = []
    for buyer in ("b1", "b2"):
        ticket = kit.buy(buyer, space["id"])
        kit.pay(ticket)
        paid.append(ticket)
    stripe_process.stop()
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user="hana").status_code == 200
    runner.drain(max_batches=2, visibility_timeout=0)  # the refund page fails; the queue keeps it

    repo = container().ticket_repo
    assert {repo.require(space["id"], t["ticket_id"]).status for t in paid} == {"paid"}
    assert api.call("GET", "/v1/me/payouts", as_user="hana").json["tickets_refunded"] == 0

    stripe_process.start()
    runner.drain(visibility_timeout=0)
    assert {repo.require(space["id"], t["ticket_id"]).status for t in paid} == {"refunded"}
    payouts = api.call("GET", "/v1/me/payouts", as_user="hana").json
    assert (payouts["lifetime_gross_cents"], payouts["tickets_refunded"]) == (0, 2)
    assert sorted(s["kind"] for s in payouts["sales"]) == ["refund", "refund", "sale", "sale"]
    keys = [r.idempotency_key for r in kit.wire.to("POST", "/v1/refunds")]  # type: ignore[union-attr]
    assert sorted(set(keys)) == sorted(f"ticket:{t['ticket_id']}:refund" for t in paid)
    meta = space_item(space["id"])
    assert (meta.get("seats_held", 0), meta["ticket"]["sold"]) == (0, 0)
