"""TransactionConflict, which real DynamoDB returns on hot items and moto never does.

A TransactWriteItems that overlaps another request on one of its items is canceled with
``CancellationReasons`` code ``TransactionConflict`` (nothing written). ``Table.transact`` sends it
again with full-jitter backoff, at most ``dynamodb_transaction_attempts`` in all; condition
failures (``ConditionalCheckFailed``) are answers, never retried.

``Conflicts`` below injects them at the botocore layer of the container's own client: a
``before-call.dynamodb.TransactWriteItems`` handler answers (without sending) with the error real
DynamoDB gives when

- ``overlap``: another TransactWriteItems touching one of the same items is in flight (between its
  before-call and after-call), which is how the real conflicts arise, and/or
- ``first``: each thread's first attempt at a given transaction (deterministic: every racer
  conflicts at least once), or ``always``.

The races release threads with a barrier at ``sys.setswitchinterval(1e-6)`` and drive the
services from the container (the Chalice test client is not thread-safe).
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from chalicelib.domain.errors import AirwavesError
from tests.helpers import container, race, space_item

TX = "dynamodb.TransactWriteItems"


class _Http:
    def __init__(self) -> None:
        self.status_code = 400
        self.headers: dict[str, str] = {}


class Conflicts:
    def __init__(self, *, overlap: bool = True, first: bool = False, always: bool = False) -> None:
        self.overlap, self.first, self.always = overlap, first, always
        self.lock = threading.Lock()
        self.in_flight: Counter[tuple[str, str, str]] = Counter()
        self.seen: set[tuple[int, frozenset[tuple[str, str, str]]]] = set()
        self.tries: Counter[tuple[int, frozenset[tuple[str, str, str]]]] = Counter()  # attempts per transaction
        self.attempts = self.injected = self.sent = 0

    def install(self, client: Any) -> Conflicts:
        events = client.meta.events
        events.register_first(f"before-parameter-build.{TX}", self._keys)
        events.register_first(f"before-call.{TX}", self._before_call)
        events.register_last(f"after-call.{TX}", self._release)
        events.register_last(f"after-call-error.{TX}", self._release)
        return self

    @staticmethod
    def _keys(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        keys = []
        for entry in params.get("TransactItems", []):
            for body in entry.values():
                k = body.get("Key") or body.get("Item") or {}
                keys.append((body.get("TableName", ""), k["PK"]["S"], k["SK"]["S"]))
        context["conflict_keys"] = keys

    def _before_call(self, context: dict[str, Any], **_: Any) -> Any:
        keys: list[tuple[str, str, str]] = context.get("conflict_keys", [])
        with self.lock:
            self.attempts += 1
            busy = [self.overlap and self.in_flight[k] > 0 for k in keys]
            mine = (threading.get_ident(), frozenset(keys))
            forced = self.always or (self.first and mine not in self.seen)
            self.seen.add(mine)
            self.tries[mine] += 1
            if forced or any(busy):
                self.injected += 1
                if not any(busy):
                    busy = [i == 0 for i in range(len(keys))]
                reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                           if b else {"Code": "None"} for b in busy]
                return _Http(), {
                    "Error": {"Code": "TransactionCanceledException",
                              "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                                         f"reasons [{', '.join(r['Code'] for r in reasons)}]"},
                    "CancellationReasons": reasons,
                    "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "conflict"},
                }
            self.in_flight.update(keys)
            self.sent += 1
            context["conflict_held"] = keys
            return None

    def _release(self, context: dict[str, Any], **_: Any) -> None:
        held = context.pop("conflict_held", None)
        if held:
            with self.lock:
                self.in_flight.subtract(held)


def conflicts(**mode: Any) -> Conflicts:
    return Conflicts(**mode).install(container().table.client)


def with_attempts(monkeypatch, n: int) -> None:
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_DYNAMODB_TRANSACTION_ATTEMPTS", str(n))
    reset_container()


# Here every moto call is serialised and the switch interval is tiny, so a transaction is in flight
# far longer than on DynamoDB and racers queue: the last of 8-10 needed up to 7 attempts (see the
# printed numbers). The races get headroom above the default of 8 so they test the logic, not luck.
RACE_ATTEMPTS = 16


# -- a big account's follower count ----------------------------------------------------------------
FANS = 8


def follow_race(api) -> tuple[list[object], list[Exception], list[str]]:
    api.make_user("star", 0)
    for i in range(FANS):
        api.make_user(f"fan{i}", 0)
    users = container().users
    return race(FANS, lambda i: users.follow(f"fan{i}", "star"))


@pytest.mark.parametrize("mode", [{"overlap": True}, {"overlap": True, "first": True}], ids=["overlap", "first+overlap"])
def test_racing_follows_of_one_account_under_conflicts_lose_no_follow(api, monkeypatch, mode):
    with_attempts(monkeypatch, RACE_ATTEMPTS)
    injected = conflicts(**mode)
    made, errors, other = follow_race(api)
    assert other == [] and [(e.status, e.code) for e in errors] == []
    assert made == [True] * FANS
    repo = container().user_repo
    assert repo.get("star").follower_count == FANS
    assert [repo.get(f"fan{i}").following_count for i in range(FANS)] == [1] * FANS
    edges = container().big_accounts
    assert all(edges.following_among(f"fan{i}", ["star"]) == {"star"} for i in range(FANS))
    if mode.get("first"):
        assert injected.injected >= FANS
    assert container().table.conflict_retries == injected.injected
    print(f"\n{mode}: {FANS} followers: {injected.attempts} attempts, {injected.injected} conflicts retried,"
          f" attempts per transaction {sorted(injected.tries.values())}")


def test_without_retries_the_same_race_loses_follows_as_503(api, monkeypatch):
    """What the retry fixes: one attempt only, and each racer's first attempt conflicts."""
    with_attempts(monkeypatch, 1)
    conflicts(first=True)
    made, errors, other = follow_race(api)
    assert other == [] and made == []
    assert [(e.status, e.code) for e in errors] == [(503, "upstream_unavailable")] * FANS
    assert container().user_repo.get("star").follower_count == 0


# -- a Space's seat counter ------------------------------------------------------------------------
BUYERS, SEATS = 10, 4


@pytest.mark.stripe
@pytest.mark.parametrize("mode", [{"overlap": True}, {"overlap": True, "first": True}], ids=["overlap", "first+overlap"])
def test_racing_buyers_under_conflicts_never_oversell(stripe, api, monkeypatch, mode):
    with_attempts(monkeypatch, RACE_ATTEMPTS)
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", quantity=SEATS)
    for i in range(BUYERS):
        api.make_user(f"buyer{i}", followers=0)
    tickets = container().tickets
    injected = conflicts(**mode)
    won, errors, other = race(BUYERS, lambda i: tickets.buy(f"buyer{i}", space["id"]).ticket.id)
    assert other == []
    assert sorted((e.status, e.code) for e in errors) == [(409, "sold_out")] * (BUYERS - SEATS)
    assert len(won) == SEATS == len(set(won))
    assert space_item(space["id"])["seats_held"] == SEATS
    assert len(stripe.wire.to("POST", "/v1/payment_intents")) == SEATS
    if mode.get("first"):
        assert injected.injected >= BUYERS
    assert injected.injected > 0
    print(f"\n{mode}: {BUYERS} buyers / {SEATS} seats: {injected.attempts} attempts, {injected.injected} conflicts,"
          f" attempts per transaction {sorted(injected.tries.values())}")


# -- what is and is not retried ----------------------------------------------------------------
def test_a_conflict_that_never_clears_is_503_after_the_set_attempts_with_bounded_backoff(api, monkeypatch):
    with_attempts(monkeypatch, 4)
    api.make_user("star", 0)
    api.make_user("fan", 0)
    table = container().table
    slept: list[float] = []
    table.sleep = slept.append
    injected = conflicts(always=True)
    with pytest.raises(AirwavesError) as caught:
        container().users.follow("fan", "star")
    assert (caught.value.status, caught.value.code) == (503, "upstream_unavailable")
    assert injected.attempts == 4 and len(slept) == 3
    ceilings = [table.transaction_backoff_ms * 2 ** i / 1000 for i in range(3)]
    assert all(0 <= s <= c for s, c in zip(slept, ceilings, strict=True))
    assert container().user_repo.get("star").follower_count == 0


def test_condition_failures_are_answers_not_retried(api):
    api.make_user("star", 0)
    api.make_user("fan", 0)
    users = container().users
    assert users.follow("fan", "star") is True
    injected = conflicts(overlap=False)
    assert users.follow("fan", "star") is False  # the edge exists: ConditionalCheckFailed, one attempt
    assert injected.attempts == 1 and container().table.conflict_retries == 0
    assert container().user_repo.get("star").follower_count == 1


def test_a_cancellation_with_a_condition_failure_and_a_conflict_is_the_condition_failure():
    from botocore.exceptions import ClientError

    from chalicelib.adapters.dynamodb.table import Table, TransactionCanceled

    class Client:
        calls = 0

        def transact_write_items(self, **_: Any) -> None:
            Client.calls += 1
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "x"},
                               "CancellationReasons": [{"Code": "ConditionalCheckFailed"},
                                                       {"Code": "TransactionConflict"}]}, "TransactWriteItems")

    table = Table("t", client=Client(), sleep=lambda s: None)
    with pytest.raises(TransactionCanceled) as caught:
        table.transact([{"Put": {"Item": {}}}, {"Update": {"Key": {}}}])
    assert caught.value.failed(0) and Client.calls == 1


# -- a single-item write that hits an item inside a transaction -----------------------------------
@pytest.mark.parametrize("attempts, expect", [(8, 201), (1, 503)])
def test_a_single_item_write_that_meets_a_transaction_is_sent_again(api, monkeypatch, attempts, expect):
    """Real DynamoDB rejects a PutItem/UpdateItem/DeleteItem on an item an ongoing transaction holds
    with ``TransactionConflictException`` (botocore does not retry it; before this it was a raw 500).
    Injected on the request's first write (``dynamo_faults.py``, before-send, every botocore attempt)."""
    from tests.faults.dynamo_faults import DynamoFaults

    with_attempts(monkeypatch, attempts)
    container().table.sleep = lambda s: None
    faults = DynamoFaults().install(container().table.client)
    faults.reset(fail_call=1, code="TransactionConflictException", status=400)
    res = api.call("PUT", "/v1/admin/users/newbie", as_user="admin", admin=True,
                   body={"handle": "newbie", "display_name": "New", "follower_count": 5})
    assert res.status_code == expect, res.body
    if expect == 201:
        assert faults.injected == 1 and container().table.conflict_retries == 1
        assert container().user_repo.get("newbie").follower_count == 5
    else:
        assert res.json["error"]["code"] == "upstream_unavailable"
        assert container().user_repo.get("newbie") is None
