"""The "live from people you follow" feed at scale: a reader following 5,000 accounts, 50 of them
live (45 ordinary hosts fanned out on write, 5 big ones merged at read time), among 200 other live
Spaces. Prints end-to-end latency of ``GET /v1/spaces?state=live&following=true`` (Chalice test
client on moto's in-memory DynamoDB) and what each page reads from DynamoDB: calls, items and
read capacity units (estimated from item sizes with DynamoDB's 4 KB rounding; moto does not
meter). For scale, the same answer computed the naive way (read all 5,000 follow edges, then
look each account up) is measured too."""
from __future__ import annotations

import json
import math
import statistics
import time
from typing import Any

FOLLOWING = 5_000
LIVE_ORDINARY = 45
LIVE_BIG = 5
NOISE_LIVE = 200
PAGE = 20
RUNS = 200


# -- DynamoDB read accounting ----------------------------------------------------------------
def _value_size(value: dict[str, Any]) -> int:
    (kind, v), = value.items()
    if kind in ("S", "B"):
        return len(v.encode() if isinstance(v, str) else v)
    if kind == "N":
        return len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("SS", "BS", "NS"):
        return sum(len(x) for x in v)
    if kind == "M":
        return 3 + sum(len(k) + _value_size(x) for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    return 1


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name) + _value_size(value) for name, value in item.items())


class Meter:
    """Counts DynamoDB calls, items returned and read capacity units through botocore hooks."""

    def __init__(self, client) -> None:
        self.calls: dict[str, int] = {}
        self.items = 0
        self.rcu = 0.0
        self.seconds = 0.0
        self._consistent = False
        self._began = 0.0
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        self.calls, self.items, self.rcu, self.seconds = {}, 0, 0.0, 0.0

    def _before(self, event_name, params=None, **_):
        op = event_name.rsplit(".", 1)[-1]
        self.calls[op] = self.calls.get(op, 0) + 1
        self._consistent = bool((params or {}).get("ConsistentRead"))
        self._began = time.perf_counter()

    def _after(self, event_name, parsed=None, **_):
        self.seconds += time.perf_counter() - self._began
        parsed = parsed or {}
        factor = 1.0 if self._consistent else 0.5
        if "Items" in parsed:  # Query: the page's total size, rounded up once
            self.items += len(parsed["Items"])
            self.rcu += factor * max(1, math.ceil(sum(item_size(i) for i in parsed["Items"]) / 4096))
        if parsed.get("Item"):
            self.items += 1
            self.rcu += factor * math.ceil(item_size(parsed["Item"]) / 4096)
        for items in parsed.get("Responses", {}).values():  # BatchGetItem: each item rounded up
            self.items += len(items)
            self.rcu += sum(factor * math.ceil(item_size(i) / 4096) for i in items)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the world -------------------------------------------------------------------------------
def batch_put(client, table: str, items: list[dict[str, Any]]) -> None:
    from chalicelib.adapters.dynamodb.table import serialize

    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": serialize(i)}} for i in items[start:start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def build_world(c, runner) -> list[str]:
    """The reader ``me`` follows a0000..a4999; a0000..a0044 ordinary live, a0045..a0049 big live.

    Everything that runs transactions (going live, ending) happens before the bulk of the follow
    graph is loaded: moto copies the whole table per transaction, which says nothing about DynamoDB.
    """
    now = "2026-01-01T00:00:00+00:00"
    accounts = [f"a{i:04d}" for i in range(FOLLOWING)]
    on_air = accounts[:LIVE_ORDINARY + LIVE_BIG]
    big = set(accounts[LIVE_ORDINARY:LIVE_ORDINARY + LIVE_BIG])
    noise = [f"n{i:03d}" for i in range(NOISE_LIVE)]

    def profile(u: str, followers: int) -> dict[str, Any]:
        return {"PK": f"USER#{u}", "SK": "PROFILE", "id": u, "handle": u, "display_name": u,
                "follower_count": followers, "following_count": 0, "upcoming_count": 0, "created_at": now}

    def edge(u: str) -> dict[str, Any]:
        return {"PK": "USER#me", "SK": f"FOLLOWS#{u}", "GSI1PK": f"FOLLOWERS#{u}", "GSI1SK": "me",
                "follower": "me", "followee": u, "created_at": now}

    batch_put(c.table.client, c.table.name,
              [profile("me", 10)] + [profile(u, 50_000 if u in big else 1_000) for u in on_air + noise]
              + [edge(u) for u in on_air])
    # Big accounts go live once (promotion: their followers learn to merge them), then again.
    first = [c.spaces.create(u, title="warm-up").id for u in sorted(big)]
    runner.drain()
    for u, sid in zip(sorted(big), first, strict=False):
        c.spaces.end(u, sid)
    runner.drain()
    live = []
    for n, u in enumerate(on_air + noise):
        sid = c.spaces.create(u, title=f"live {n}").id
        if not u.startswith("n"):
            live.append(sid)
    runner.drain()
    assert all(m == "big" for m in c.big_accounts.modes(sorted(big)).values())
    rest = accounts[len(on_air):]
    batch_put(c.table.client, c.table.name, [profile(u, 1_000) for u in rest] + [edge(u) for u in rest])
    return live


def naive(c) -> tuple[set[str], Meter, float]:
    """The answer without any index: every follow edge, then where each account is live."""
    from chalicelib.domain.pages import PageRequest
    from chalicelib.domain.spaces import SpaceState

    meter = Meter(c.table.client)
    began = time.perf_counter()
    followees: list[str] = []
    start = None
    while True:
        ids = c.user_repo.following_page("me", PageRequest(start, 1000))
        followees += ids.items
        start = ids.next
        if not start:
            break
    hosts = set(followees)
    spaces: list[str] = []
    while True:  # every live Space (the GSI2 live list), kept when its host is followed
        page = c.space_repo.list_page(SpaceState.live, None, PageRequest(start, 1000))
        spaces += [s.id for s in page.items if s.host_id in hosts]
        start = page.next
        if not start:
            break
    return set(spaces), meter, (time.perf_counter() - began) * 1000


def main() -> None:
    from unittest.mock import patch

    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench-feed")
    from chalicelib.adapters.livekit import LiveKitMedia
    from tests.fixtures_livekit import FakeLiveKit

    in_memory_media = patch.object(LiveKitMedia, "from_settings", classmethod(lambda cls, settings, secrets: FakeLiveKit()))
    with mock_aws(), in_memory_media:
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import reset_container
        from infra.local.scheduler_runner import LocalRunner, provision

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench-feed")
        provision()
        c = reset_container()
        runner = LocalRunner()
        began = time.perf_counter()
        live = build_world(c, runner)
        print(f"world: reader follows {FOLLOWING:,} accounts; {len(live)} of them live "
              f"({LIVE_ORDINARY} fanned out, {LIVE_BIG} big, merged at read); {NOISE_LIVE} other live Spaces "
              f"(built in {time.perf_counter() - began:.1f}s)")
        from app import app

        with Client(app) as client:
            token = json.loads(client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                                                body=json.dumps({"user_id": "me"})).body)["token"]
            headers = {"Authorization": f"Bearer {token}"}

            def get(cursor: str | None = None) -> dict[str, Any]:
                url = f"/v1/spaces?state=live&following=true&limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
                res = client.http.get(url, headers=headers)
                assert res.status_code == 200, res.body
                return json.loads(res.body)

            meter = Meter(c.table.client)
            first, per_page, in_dynamo = [], [], []
            for _ in range(RUNS):
                meter.reset()
                t0 = time.perf_counter()
                get()
                first.append((time.perf_counter() - t0) * 1000)
                in_dynamo.append(meter.seconds * 1000)
                per_page.append((dict(meter.calls), meter.items, meter.rcu))
            whole, whole_reads, seen = [], [], []
            for _ in range(RUNS // 4):
                meter.reset()
                t0, cursor, seen = time.perf_counter(), None, []
                while True:
                    page = get(cursor)
                    seen += [s["id"] for s in page["items"]]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                whole.append((time.perf_counter() - t0) * 1000)
                whole_reads.append((meter.items, meter.rcu, sum(meter.calls.values())))
        assert sorted(seen) == sorted(live), "the feed must list exactly the 50 live Spaces"
        calls, items, rcu = per_page[-1]
        print(f"first page ({PAGE} Spaces): p50 {statistics.median(first):.2f} ms, p99 {pct(first, 0.99):.2f} ms "
              f"over {RUNS} requests (end to end, in process); of which {statistics.median(in_dynamo):.2f} ms "
              f"(p50) inside moto's DynamoDB calls, {statistics.median(first) - statistics.median(in_dynamo):.2f} ms "
              f"everything else")
        print(f"  DynamoDB per page: {sum(calls.values())} calls {dict(sorted(calls.items()))}, "
              f"{items} items read, ~{rcu:.1f} RCU (eventually consistent), Scan calls: {calls.get('Scan', 0)}")
        items_all, rcu_all, calls_all = whole_reads[-1]
        print(f"whole feed ({len(seen)} Spaces, {math.ceil(len(seen) / PAGE)} pages): p50 {statistics.median(whole):.2f} ms, "
              f"p99 {pct(whole, 0.99):.2f} ms; {calls_all} calls, {items_all} items, ~{rcu_all:.1f} RCU")
        answer, naive_meter, naive_ms = naive(c)
        assert answer == set(live), "the naive way finds the same Spaces"
        print(f"naive (all {FOLLOWING:,} follow edges + the global live list): {naive_ms:.1f} ms, "
              f"{sum(naive_meter.calls.values())} calls, {naive_meter.items:,} items, ~{naive_meter.rcu:.1f} RCU "
              f"(and it grows with follows and with every live Space)")
