"""Discovery at scale on moto: "live from people you follow" (hosts, co-hosts and speakers, big
accounts merged at read time), topic and scheduled lists; paging with signed cursors; never a Scan,
and the work per page does not grow with the number of Spaces or users."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.pages import PageRequest
from chalicelib.domain.spaces import SpaceState


@pytest.fixture
def c(aws):
    from chalicelib.container import get_container

    return get_container()


class Calls:
    """Counts DynamoDB operations and the items they return, through botocore's event hooks."""

    def __init__(self, client) -> None:
        self.ops: list[str] = []
        self.items = 0
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, event_name, **_):
        self.ops.append(event_name.rsplit(".", 1)[-1])

    def _after(self, parsed=None, **_):
        parsed = parsed or {}
        self.items += len(parsed.get("Items", [])) + int("Item" in parsed)
        self.items += sum(len(v) for v in parsed.get("Responses", {}).values())

    def reset(self) -> None:
        self.ops, self.items = [], 0


def person(c, user_id: str, followers: int = 1000) -> None:
    c.users.upsert(user_id, handle=user_id.replace("-", "_"), display_name=user_id, follower_count=followers)


def follow(c, me: str, *others: str) -> None:
    for other in others:
        c.users.follow(me, other)


def feed_pages(api, user: str, limit: int) -> tuple[list[str], int]:
    ids, cursor, pages = [], None, 0
    while True:
        page = api.call("GET", f"/v1/spaces?state=live&following=true&limit={limit}"
                                + (f"&cursor={cursor}" if cursor else ""), as_user=user)
        assert page.status_code == 200, page.body
        ids += [s["id"] for s in page.json["items"]]
        pages += 1
        cursor = page.json["next_cursor"]
        if not cursor:
            return ids, pages


@pytest.fixture
def world(api, c, runner):
    """40 ordinary hosts, 2 big ones, 20 people who only speak, 60 bystanders, and a reader."""
    hosts = [f"h{i:02d}" for i in range(40)]
    talkers = [f"t{i:02d}" for i in range(20)]
    for u in hosts + talkers + ["me"] + [f"x{i:02d}" for i in range(60)]:
        person(c, u)
    person(c, "b0", 50_000)
    person(c, "b1", 80_000)
    follow(c, "me", *hosts[:10], "b0", *talkers[:5])
    for i in range(60):  # bystanders follow a few hosts each: other people's feeds fill up too
        follow(c, f"x{i:02d}", hosts[i % 40], hosts[(i * 7) % 40], "b1")

    live = {h: c.spaces.create(h, title=f"by {h}", topics=["tech" if i % 2 else "music"]).id
            for i, h in enumerate(hosts[:30])}
    live["b0"] = c.spaces.create("b0", title="star").id
    live["b1"] = c.spaces.create("b1", title="other star").id
    for i, h in enumerate(hosts[30:]):
        c.spaces.create(h, title=f"later {h}", scheduled_start=datetime.now(UTC) + timedelta(hours=i + 1))
    c.stage.add_cohost("h15", live["h15"], "t00")        # a co-host I follow
    c.stage.add_speaker("h16", live["h16"], "t01")       # a speaker I follow
    c.stage.add_speaker("h05", live["h05"], "t02")
    c.stage.add_speaker("h17", live["h17"], "t03")
    c.stage.add_speaker("h18", live["h18"], "t10")       # a speaker I do not follow
    runner.drain()
    c.stage.remove_speaker("h17", live["h17"], "t03")    # ... who stepped down after reaching me
    for ended in ("h05", "h25"):
        c.spaces.end(ended, live[ended])
    runner.drain()
    expected_hosts = [f"h{i:02d}" for i in range(10) if i != 5] + ["h15", "h16", "b0"]
    spaces = {s.id: s for s in c.space_repo.get_many([live[h] for h in expected_hosts])}
    expected = sorted(spaces, key=lambda sid: (spaces[sid].started_at, sid), reverse=True)
    return {"live": live, "expected": expected}


def test_following_shows_hosts_cohosts_and_speakers_i_follow_newest_first(api, world):
    live = world["live"]
    ids, _ = feed_pages(api, "me", limit=50)
    assert ids == world["expected"]
    assert live["b0"] in ids, "a big account I follow, merged at read time"
    assert live["h15"] in ids and live["h16"] in ids, "a co-host and a speaker I follow"
    assert live["h05"] not in ids and live["h25"] not in ids, "ended"
    assert live["h17"] not in ids, "the speaker I follow stepped down"
    assert live["h18"] not in ids and live["b1"] not in ids and live["h20"] not in ids, "nobody I follow"
    for limit in (1, 4, 5, 12):
        paged, pages = feed_pages(api, "me", limit=limit)
        assert paged == world["expected"], f"limit {limit}: no gaps, no duplicates, the same order"
        assert pages <= len(paged) // limit + 1


def test_unfollowing_hides_a_space_at_once(api, c, world):
    live = world["live"]
    assert api.call("DELETE", "/v1/me/following/h01", as_user="me").status_code == 200
    ids, _ = feed_pages(api, "me", limit=50)
    assert live["h01"] not in ids and ids == [s for s in world["expected"] if s != live["h01"]]


def test_a_follower_who_follows_nobody_on_stage_sees_nothing(api, c, world):
    person(c, "loner")
    assert api.call("GET", "/v1/spaces?state=live&following=true", as_user="loner").json == {
        "items": [], "next_cursor": None}


def test_tampered_and_foreign_cursors_are_400(api, world):
    page = api.call("GET", "/v1/spaces?state=live&following=true&limit=2", as_user="me").json
    cursor = page["next_cursor"]
    body, tag = cursor.split(".")
    forged = body + "." + ("A" if tag[0] != "A" else "B") + tag[1:]
    for bad in (forged, "garbage", body, cursor + "x"):
        res = api.call("GET", f"/v1/spaces?state=live&following=true&cursor={bad}", as_user="me")
        assert res.status_code == 400 and res.json["error"]["details"][0]["field"] == "cursor", bad
    assert api.call("GET", f"/v1/spaces?state=live&following=true&cursor={cursor}", as_user="x01").status_code == 400
    assert api.call("GET", f"/v1/spaces?state=live&cursor={cursor}", as_user="me").status_code == 400


def test_the_feed_never_scans_and_its_work_does_not_grow_with_the_world(api, c, world, monkeypatch):
    # Warm the per-container cache of the caption engine's last report, and keep it for the test,
    # so both calls below do a request's steady-state work: what must not grow is the feed's reads.
    monkeypatch.setattr(c.caption_engines, "cache_seconds", 3600.0)
    api.call("GET", "/v1/spaces?state=live&following=true&limit=5", as_user="me")
    calls = Calls(c.table.client)
    first = api.call("GET", "/v1/spaces?state=live&following=true&limit=5", as_user="me").json
    assert len(first["items"]) == 5
    assert "Scan" not in calls.ops
    assert set(calls.ops) <= {"Query", "GetItem", "BatchGetItem"}
    ops_before, items_before = len(calls.ops), calls.items

    # Many more Spaces and users that have nothing to do with me.
    for i in range(40):
        person(c, f"y{i:02d}")
        c.spaces.create(f"y{i:02d}", title="unrelated")
        follow(c, f"y{i:02d}", "h01", "b0")
    calls.reset()
    again = api.call("GET", "/v1/spaces?state=live&following=true&limit=5", as_user="me").json
    assert [s["id"] for s in again["items"]] == [s["id"] for s in first["items"]]
    assert "Scan" not in calls.ops
    assert (len(calls.ops), calls.items) == (ops_before, items_before)


@pytest.mark.parametrize("state, topic", [("scheduled", None), ("scheduled", "music"), ("live", "tech")])
def test_topic_and_scheduled_lists_page_from_the_index_without_scans(api, c, state, topic):
    for i in range(24):
        host = f"s{i:02d}"
        person(c, host)
        topics = ["music"] if i % 3 else ["tech"]
        start = datetime.now(UTC) + timedelta(hours=24 - i) if state == "scheduled" else None
        c.spaces.create(host, title=f"t{i}", topics=topics, scheduled_start=start)
    want = c.space_repo.list_page(SpaceState(state), topic, PageRequest(None, 100)).items
    calls = Calls(c.table.client)
    ids, cursor = [], None
    while True:
        url = f"/v1/spaces?state={state}&limit=5" + (f"&topic={topic}" if topic else "") + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", url, as_user="reader").json
        ids += [s["id"] for s in page["items"]]
        assert all(s["state"] == state and (not topic or topic in s["topics"]) for s in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == [s.id for s in want] and len(ids) == (24 if not topic else (16 if topic == "music" else 8))
    assert "Scan" not in calls.ops
    if state == "scheduled":
        starts = [s.scheduled_start for s in want]
        assert starts == sorted(starts), "soonest first"


def test_stale_entries_are_skipped_and_paging_still_reaches_everything(api, c, runner):
    """Entries whose Space ended but were not cleaned up yet (the TTL backstop's case)."""
    new, old = [f"new{i}" for i in range(3)], [f"old{i}" for i in range(8)]  # one live Space per host
    for u in ("me", *new, *old):
        person(c, u)
    follow(c, "me", *new, *old)
    fresh = [c.spaces.create(h, title=f"on {i}").id for i, h in enumerate(new)]
    stale = [c.spaces.create(h, title=f"gone {i}") for i, h in enumerate(old)]  # newer: on top of the feed
    runner.drain()
    for space in stale:
        c.spaces.end(space.host_id, space.id)   # no drain: the cleanup has not run
    ids, pages = feed_pages(api, "me", limit=1)
    assert pages > len(fresh), "some pages had only stale entries to look at"
    assert sorted(ids) == sorted(fresh) and len(ids) == len(set(ids))
    runner.drain()
    assert feed_pages(api, "me", limit=2)[0] == list(reversed(fresh))


def _following_ids(api, user: str) -> list[str]:
    res = api.call("GET", "/v1/spaces?state=live&following=true", as_user=user)
    assert res.status_code == 200, res.body
    return [s["id"] for s in res.json["items"]]


def test_following_someone_already_live_shows_their_space_at_once(api, c, runner):
    for u in ("late", "star", "guest", "fan2"):
        person(c, u)
    space = c.spaces.create("star", title="already on")
    c.stage.add_speaker("star", space.id, "guest")
    runner.drain()
    assert _following_ids(api, "late") == []
    assert api.call("PUT", "/v1/me/following/star", as_user="late").status_code in (200, 201)
    assert _following_ids(api, "late") == [space.id], "no fan-out ran after the follow"
    assert api.call("PUT", "/v1/me/following/guest", as_user="fan2").status_code in (200, 201)
    assert _following_ids(api, "fan2") == [space.id], "a speaker on stage counts too"
    c.spaces.end("star", space.id)
    runner.drain()
    assert _following_ids(api, "late") == [] and _following_ids(api, "fan2") == []
    assert c.big_accounts.live_keys_of(["star", "guest"]) == [], "the live-in index is cleaned at the end"
