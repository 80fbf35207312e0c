"""DynamoDB throttling and transient errors on every write path (injected at the botocore layer,
``dynamo_faults.py``), against the real app on moto:

| fault                                            | the caller sees                | stored afterwards                  |
|--------------------------------------------------|--------------------------------|------------------------------------|
| each write's first 2 attempts throttled          | the normal answer (botocore    | what a fault-free call stores      |
|                                                  | retried with backoff)          |                                    |
| the k-th write of the request fails on every     | 503 ``upstream_unavailable``   | LEFTOVERS below at most; the same  |
| attempt (for every k the path reaches)           | in the contract's error shape  | request then succeeds, state exact |

The money paths run with the app's Stripe calls on stripe-mock: a ticket hold and purchase, the
signed ``payment_intent.succeeded`` / ``payment_failed`` webhook (Stripe's retry redelivers the
same event), a canceled Space's refund page (a queue job: its consumer raises the 503's error and
the message is retried) and payout onboarding. Their checks prove the retry had no double effect:
one sale or refund line, earnings and seat counters exact.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.faults.dynamo_faults import DynamoFaults
from tests.helpers import container, table_changes, table_snapshot


@dataclass
class Path:
    """A write path: ``setup(n)`` prepares fresh state (suffix ``n``) and returns the request."""

    name: str
    setup: Callable[[Any, int], Callable[[], Any]]
    ok: tuple[int, ...] = (200, 201)
    check: Callable[[Any, int], None] | None = None  # what must be stored once the request succeeded
    stripe: bool = False  # a money path: the app's Stripe calls go to stripe-mock


def live_space(api, n: int) -> str:
    api.make_user(f"host{n}", 1000)
    res = api.call("POST", "/v1/spaces", as_user=f"host{n}", body={"title": "Live"})
    assert res.status_code == 201, res.body
    return res.json["id"]


def joined(api, n: int) -> tuple[str, str]:
    space = live_space(api, n)
    fan = f"fan{n}"
    assert api.call("POST", f"/v1/spaces/{space}/join", as_user=fan).status_code == 200
    return space, fan


def _create(api, n):
    api.make_user(f"host{n}", 1000)
    return lambda: api.call("POST", "/v1/spaces", as_user=f"host{n}", body={"title": "Live"},
                            headers={"Idempotency-Key": f"create-{n}"})


def _schedule(api, n):
    api.make_user(f"host{n}", 1000)
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    return lambda: api.call("POST", "/v1/spaces", as_user=f"host{n}", body={"title": "Later", "scheduled_start": start},
                            headers={"Idempotency-Key": f"schedule-{n}"})


def _end(api, n):
    space = live_space(api, n)
    return lambda: api.call("POST", f"/v1/spaces/{space}/end", as_user=f"host{n}")


def _follow(api, n):
    api.make_user(f"star{n}", 10)
    api.make_user(f"fan{n}", 0)
    return lambda: api.call("PUT", f"/v1/me/following/star{n}", as_user=f"fan{n}")


def _raise_hand(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("POST", f"/v1/spaces/{space}/speak-requests", as_user=fan)


def _promote(api, n):
    space, fan = joined(api, n)
    assert api.call("POST", f"/v1/spaces/{space}/speak-requests", as_user=fan).status_code == 201
    return lambda: api.call("PUT", f"/v1/spaces/{space}/speakers/{fan}", as_user=f"host{n}")


def _promoted(api, n):
    space = api.call("GET", "/v1/spaces?state=live", as_user=f"host{n}").json["items"]
    (mine,) = [s for s in space if s["host_id"] == f"host{n}"]
    assert f"fan{n}" in mine["speaker_ids"]
    assert api.call("GET", f"/v1/spaces/{mine['id']}/speak-requests", as_user=f"host{n}").json["items"] == []


def _followed(api, n):
    star = api.call("GET", f"/v1/users/star{n}", as_user="x").json
    assert star["follower_count"] == 11, star


def _cohost(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("PUT", f"/v1/spaces/{space}/cohosts/{fan}", as_user=f"host{n}")


def _remove(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("POST", f"/v1/spaces/{space}/participants/{fan}/remove", as_user=f"host{n}")


def _logged(*actions: str, target: bool = True):
    """A check: host<n>'s live Space's moderation log is exactly ``actions`` (newest first), each
    done to fan<n> (or to nobody): a retry after a failure logged the action once."""
    def check(api, n):
        (space,) = [s for s in api.call("GET", "/v1/spaces?state=live", as_user=f"host{n}").json["items"]
                    if s["host_id"] == f"host{n}"]
        entries = api.call("GET", f"/v1/spaces/{space['id']}/moderation-log", as_user=f"host{n}").json["items"]
        assert [(e["action"], e["target_user_id"]) for e in entries] == [(a, f"fan{n}" if target else None)
                                                                         for a in actions]
    return check


def _chat_mute(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("PUT", f"/v1/spaces/{space}/chat-mutes/{fan}", as_user=f"host{n}")


def _chat_unmute(api, n):
    space, fan = joined(api, n)
    assert api.call("PUT", f"/v1/spaces/{space}/chat-mutes/{fan}", as_user=f"host{n}").status_code == 200
    return lambda: api.call("DELETE", f"/v1/spaces/{space}/chat-mutes/{fan}", as_user=f"host{n}")


def _delete_message(api, n):
    space, fan = joined(api, n)
    message = api.call("POST", f"/v1/spaces/{space}/messages", as_user=fan, body={"text": "rude"}).json["id"]
    return lambda: api.call("DELETE", f"/v1/spaces/{space}/messages/{message}", as_user=f"host{n}")


def _mute_microphone(api, n):
    space, fan = joined(api, n)
    assert api.call("PUT", f"/v1/spaces/{space}/speakers/{fan}", as_user=f"host{n}").status_code == 200
    container().media.connect(space, fan, "speaker", publishing=True)
    return lambda: api.call("POST", f"/v1/spaces/{space}/participants/{fan}/mute", as_user=f"host{n}")


def _pin(api, n):
    space = live_space(api, n)
    return lambda: api.call("PUT", f"/v1/spaces/{space}/pin", as_user=f"host{n}", body={"text": "the rules"})


def _unpin(api, n):
    space = live_space(api, n)
    assert api.call("PUT", f"/v1/spaces/{space}/pin", as_user=f"host{n}", body={"text": "x"}).status_code == 200
    return lambda: api.call("DELETE", f"/v1/spaces/{space}/pin", as_user=f"host{n}")


def _react(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("POST", f"/v1/spaces/{space}/reactions", as_user=fan, body={"emoji": "👏"})


def _chat(api, n):
    space, fan = joined(api, n)
    return lambda: api.call("POST", f"/v1/spaces/{space}/messages", as_user=fan, body={"text": "hello"})


def _reminder(api, n):
    api.make_user(f"host{n}", 1000)
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    space = api.call("POST", "/v1/spaces", as_user=f"host{n}", body={"title": "Later", "scheduled_start": start}).json["id"]
    return lambda: api.call("PUT", f"/v1/spaces/{space}/reminder", as_user=f"fan{n}")


def _device(api, n):
    return lambda: api.call("POST", "/v1/me/devices", as_user=f"fan{n}", body={"platform": "apns", "token": f"{n:02x}" * 32})


def _profile(api, n):
    return lambda: api.call("PUT", f"/v1/admin/users/new{n}", as_user="admin", admin=True,
                            body={"handle": f"new{n}", "display_name": "New", "follower_count": 5})


# -- the money paths (stripe-mock behind the app; webhooks signed as Stripe signs them) --------------
class JobAnswer:
    """What the work queue's consumer makes of a job, in the shape of an API answer: 200 when it
    ran, else the error it raised (the queue then retries the message)."""

    def __init__(self, job: Any) -> None:
        from chalicelib.domain.errors import AirwavesError

        try:
            container().background_jobs.run(job)
            self.status_code, self.json = 200, {}
        except AirwavesError as exc:
            self.status_code, self.json = exc.status, {"error": {"code": exc.code, "message": exc.message}}
        self.body = str(self.json)


def _kit(api):
    from tests.fixtures_stripe import StripeKit

    return StripeKit(api=api, url="")


def _ticketed(api, n):
    kit = _kit(api)
    kit.make_host(f"hana{n}")
    return kit, kit.ticketed_space(f"hana{n}", price_cents=2_000, quantity=2)


def _buy(api, n):
    _, space = _ticketed(api, n)
    api.make_user(f"buyer{n}", 0)
    return lambda: api.call("POST", f"/v1/spaces/{space['id']}/tickets", as_user=f"buyer{n}",
                            headers={"Idempotency-Key": f"buy-{n}"})


def _webhook(kind: str):
    def setup(api, n):
        kit, space = _ticketed(api, n)
        payload = kit.event(kind, kit.payment_intent(kind, kit.buy(f"buyer{n}", space["id"])))
        return lambda: kit.post(payload, kit.sign(payload, kit.secret))  # Stripe redelivers the same event
    return setup


def _refund_page(api, n):
    from chalicelib.domain.jobs import RefundsPage

    kit, space = _ticketed(api, n)
    kit.pay(kit.buy(f"buyer{n}", space["id"]))
    assert api.call("DELETE", f"/v1/spaces/{space['id']}", as_user=f"hana{n}").status_code == 200
    return lambda: JobAnswer(RefundsPage(space_id=space["id"]))


def _onboard(api, n):
    api.make_user(f"cre{n}", 10)
    return lambda: api.call("POST", "/v1/me/payouts/onboarding", as_user=f"cre{n}",
                            headers={"Idempotency-Key": f"onboard-{n}"})


def _counts(space_id: str) -> tuple[int, int, int]:
    """The Space's (seats held, sold, subscribers)."""
    from tests.helpers import space_item

    meta = space_item(space_id)
    return meta.get("seats_held", 0), meta["ticket"]["sold"], meta.get("subscriber_count", 0)


def _buyers_ticket(api, n) -> dict:
    """buyer<n>'s one ticket that is not ``failed`` (attempts that failed leave those)."""
    [ticket] = [t for t in api.call("GET", "/v1/me/tickets", as_user=f"buyer{n}").json["items"]
                if t["status"] != "failed"]
    return ticket


def _ledger(n) -> tuple[list[str], int]:
    from chalicelib.domain.pages import PageRequest

    payouts = container().payout_repo
    entries = payouts.ledger_page(f"hana{n}", PageRequest(None, 100)).items
    return sorted(e.kind for e in entries), payouts.earnings(f"hana{n}").lifetime_gross_cents


def _held(api, n):
    ticket = _buyers_ticket(api, n)
    assert (ticket["status"], _counts(ticket["space_id"]), _ledger(n)) == ("pending", (1, 0, 0), ([], 0)), ticket


def _paid(api, n):
    ticket = _buyers_ticket(api, n)
    assert (ticket["status"], _counts(ticket["space_id"]), _ledger(n)) == ("paid", (1, 1, 1), (["sale"], 2_000))


def _released(api, n):
    [ticket] = api.call("GET", "/v1/me/tickets", as_user=f"buyer{n}").json["items"]
    assert (ticket["status"], _counts(ticket["space_id"]), _ledger(n)) == ("failed", (0, 0, 0), ([], 0))


def _refunded(api, n):
    ticket = _buyers_ticket(api, n)
    assert (ticket["status"], _counts(ticket["space_id"]), _ledger(n)) == (
        "refunded", (0, 0, 0), (["refund", "sale"], 0))


def _onboarded(api, n):
    payouts = container().payout_repo
    account = payouts.get_account(f"cre{n}", consistent=True)
    assert account is not None and payouts.account_owner(account.account_id) == f"cre{n}"


# Writes a failed request may leave behind, by path and the failing write's number, and why each is
# harmless: anything else a 503 leaves behind fails the test.
LEFTOVERS = {
    # the role change (one transaction) and the media server agree, the listener seat is given
    # back; the hand-lowering after them failed: 503, and the retry lowers the hand
    # (``StageService._change``)
    ("promote", 3): "role stored and applied",
    ("make co-host", 3): "role stored and applied",
    # banned and disconnected (matching the media server); the moderation-log entry failed: 503,
    # and the retry writes the ban's own entry (its id comes from the ban: never a second one)
    ("remove", 2): "ban stored and applied",
    # the microphone was muted (on the media server); listing its log entry failed: 503, and the
    # entry stays held, so the retry (the microphone already muted) lists that one entry
    ("mute a microphone", 2): "log entry held",
    # the rate limiter counted the attempt before the message write failed
    ("chat", 2): "rate-limit window counted",
    # likewise the hand and device-registration limits (issue 10's abuse limits) count the attempt
    # before the hand / device write failed; the retry still goes through (well under the limit)
    ("raise a hand", 2): "rate-limit window counted",
    ("register a device", 2): "rate-limit window counted",
    # the hourly hold limit counted the attempt (write 2) before the seat's transaction failed
    ("buy a ticket", 3): "rate-limit window counted",
    # the seat was taken, then storing the Stripe customer failed: the seat was given back in one
    # transaction (a ``failed`` ticket on record, seats and the buyer's open holds as before)
    ("buy a ticket", 4): "hold taken and released in full",
    # likewise when recording the PaymentIntent on the ticket failed (the Stripe customer stays on
    # file and is reused; the PaymentIntent, whose secret nobody got, is canceled)
    ("buy a ticket", 5): "hold taken and released in full",
}

# Writes whose failure is logged and the request still succeeds, and why that is safe.
BEST_EFFORT = {
    # going on stage gives the WebRTC listener seat back; a seat left held is freed when that
    # connection leaves (``JoinService.moved_on_stage``), so the promotion stands
    ("promote", 2): "listener seat release",
    ("make co-host", 2): "listener seat release",
}

PATHS = [Path("go live", _create), Path("schedule", _schedule), Path("end", _end), Path("follow", _follow, check=_followed),
Path("raise a hand", _raise_hand), Path("promote", _promote, check=_promoted),
         Path("make co-host", _cohost), Path("remove", _remove, check=_logged("remove")), Path("react", _react), Path("chat", _chat),
         Path("chat mute", _chat_mute, check=_logged("chat_mute")),
         Path("chat unmute", _chat_unmute, check=_logged("chat_unmute", "chat_mute")),
         Path("delete a message", _delete_message, ok=(204,), check=_logged("message_delete")),
         Path("mute a microphone", _mute_microphone, check=_logged("microphone_mute")),
         Path("pin", _pin, check=_logged("pin", target=False)),
         Path("unpin", _unpin, check=_logged("unpin", "pin", target=False)),
         Path("set a reminder", _reminder), Path("register a device", _device), Path("upsert a user", _profile),
         Path("buy a ticket", _buy, check=_held, stripe=True),
         Path("payment succeeded", _webhook("payment_intent.succeeded"), check=_paid, stripe=True),
         Path("payment failed", _webhook("payment_intent.payment_failed"), check=_released, stripe=True),
         Path("refund page", _refund_page, check=_refunded, stripe=True),
         Path("payout onboarding", _onboard, ok=(201,), check=_onboarded, stripe=True)]


@pytest.fixture
def faults(api, monkeypatch, request) -> DynamoFaults:
    import botocore.endpoint

    path = request.node.callspec.params.get("path")
    if path is not None and path.stripe:  # before installing: it gives the test a fresh container
        request.getfixturevalue("stripe")

    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda s: slept.append(s))  # backoff, without the wait
    installed = DynamoFaults().install(container().table.client)
    installed.slept = slept  # type: ignore[attr-defined]
    return installed


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_throttled_writes_are_retried_with_backoff(api, faults, path):
    request = path.setup(api, 1)
    faults.reset(transient=2)
    res = request()
    assert res.status_code in path.ok, res.body
    if path.check is not None:
        path.check(api, 1)
    assert faults.calls >= 1 and faults.injected == 2 * faults.calls, faults.ops
    assert len(faults.slept) == faults.injected and all(s >= 0 for s in faults.slept)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_a_write_that_keeps_failing_is_a_clean_503_and_the_retry_is_exact(api, faults, path):
    leftovers: dict[int, list[tuple[str, str]]] = {}
    for k in range(1, 12):
        request = path.setup(api, k)
        before = table_snapshot()
        faults.reset(fail_call=k, code="InternalServerError", status=500)
        res = request()
        if faults.calls < k:  # the path makes fewer than k writes: all were covered
            assert res.status_code in path.ok
            break
        if res.status_code in path.ok:  # only the Idempotency-Key's completion or a best-effort write failed
            assert (path.name, k) in BEST_EFFORT or (faults.ops[k - 1] == "UpdateItem" and faults.calls == k), (
                k, faults.ops)
            continue
        assert res.status_code == 503, (k, faults.ops, res.body)
        assert res.json["error"]["code"] == "upstream_unavailable" and res.json["error"]["message"]
        changed = table_changes(before)
        leftovers[k] = changed
        assert not changed or (path.name, k) in LEFTOVERS, (k, faults.ops, changed)
        faults.reset()
        again = request()
        assert again.status_code in path.ok, (k, again.body)
        if path.check is not None:
            path.check(api, k)
    else:
        pytest.fail("more than 11 writes in one request")
    print(path.name, faults.ops, {k: v for k, v in leftovers.items() if v})
