"""When LiveKit is down or refuses: 503 ``upstream_unavailable``, and what we store stays what the
media server holds (nothing half-done)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


def unavailable(res) -> bool:
    return res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"


def space(api, space_id):
    return api.call("GET", path(space_id), as_user="x").json


# -- with the in-memory server switched off ----------------------------------------------------
def test_going_live_fails_whole(api, media):
    api.make_user("host", 1000)
    media.down = True
    res = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Now"})
    assert unavailable(res)
    assert api.call("GET", "/v1/spaces?state=live", as_user="x").json["items"] == []
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    media.down = False
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Later", "scheduled_start": start}).json["id"]
    media.down = True
    assert unavailable(api.call("POST", path(sid, "/start"), as_user="host"))
    assert space(api, sid)["state"] == "scheduled"


def test_ending_fails_whole(api, media, space_id):
    media.connect(space_id, "alice", "listener")
    media.down = True
    assert unavailable(api.call("POST", path(space_id, "/end"), as_user="host"))
    assert space(api, space_id)["state"] == "live"
    assert media.connection(space_id, "alice") is not None


def test_a_failed_promotion_leaves_the_listener_a_listener_with_the_hand_up(api, media, space_id):
    media.connect(space_id, "alice", "listener")
    api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    media.down = True
    assert unavailable(api.call("POST", path(space_id, "/speak-requests/alice/approve"), as_user="host"))
    assert unavailable(api.call("PUT", path(space_id, "/speakers/alice"), as_user="host"))
    assert unavailable(api.call("PUT", path(space_id, "/cohosts/alice"), as_user="host"))
    media.down = False
    assert space(api, space_id)["speaker_ids"] == [] and space(api, space_id)["cohost_ids"] == []
    assert media.connection(space_id, "alice").role == "listener"
    queue = api.call("GET", path(space_id, "/speak-requests"), as_user="host").json["items"]
    assert [r["user_id"] for r in queue] == ["alice"]
    assert api.call("POST", path(space_id, "/join"), as_user="alice").json["role"] == "listener"
    # and once the server is back the same request goes through
    assert api.call("POST", path(space_id, "/speak-requests/alice/approve"), as_user="host").json["live"] is True


def test_a_failed_demotion_leaves_the_speaker_speaking(api, media, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    media.down = True
    assert unavailable(api.call("DELETE", path(space_id, "/speakers/bob"), as_user="host"))
    assert space(api, space_id)["speaker_ids"] == ["bob"]
    assert media.connection(space_id, "bob").publishing is True


def test_a_failed_removal_is_not_a_ban(api, media, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    media.down = True
    assert unavailable(api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host"))
    media.down = False
    assert media.connection(space_id, "bob") is not None
    assert space(api, space_id)["speaker_ids"] == ["bob"]
    assert api.call("POST", path(space_id, "/join"), as_user="bob").json["role"] == "speaker"


def test_mute_reactions_and_participants_answer_503(api, media, space_id):
    media.down = True
    assert unavailable(api.call("POST", path(space_id, "/participants/bob/mute"), as_user="host"))
    assert unavailable(api.call("POST", path(space_id, "/reactions"), as_user="a", body={"emoji": "🔥"}))
    assert unavailable(api.call("GET", path(space_id, "/participants"), as_user="host"))


def test_joining_needs_no_call_to_the_server(api, media, space_id):
    media.down = True
    assert api.call("POST", path(space_id, "/join"), as_user="alice").status_code == 200


def test_health_reports_livekit(api, media):
    assert api.call("GET", "/v1/health").json["dependencies"]["livekit"]["status"] == "ok"
    media.down = True
    res = api.call("GET", "/v1/admin/health", as_user="ops", admin=True)
    assert res.status_code == 200 and res.json["status"] == "degraded"
    assert res.json["dependencies"]["livekit"]["status"] == "down"


class CountingProbe:
    configured = True

    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1


@pytest.fixture
def probed(api, media):
    """The container's health check with a probe that counts its calls and a clock we move."""
    from chalicelib.container import get_container

    check = get_container().health
    probe, now = CountingProbe(), [1000.0]
    check.probes = {**check.probes, "counted": probe}
    check.clock = lambda: now[0]
    return probe, now


def test_public_health_runs_the_deep_check_at_most_once_per_cache_period(api, media, probed):
    probe, now = probed
    for _ in range(5):
        res = api.call("GET", "/v1/health")
        assert res.status_code == 200 and res.json["dependencies"]["livekit"]["status"] == "ok"
    assert probe.pings == 1, "five unauthenticated calls made one round of dependency calls"
    media.down = True
    now[0] += 29
    stale = api.call("GET", "/v1/health").json
    assert stale["dependencies"]["livekit"]["status"] == "ok" and stale["checked_seconds_ago"] == 29.0
    assert probe.pings == 1
    now[0] += 1  # 30 s: the cached check has expired
    fresh = api.call("GET", "/v1/health").json
    assert fresh["dependencies"]["livekit"]["status"] == "down" and fresh["checked_seconds_ago"] == 0.0 and probe.pings == 2


def test_liveness_calls_no_dependency(api, media, probed):
    probe, _ = probed
    media.down = True
    res = api.call("GET", "/v1/health/live")
    assert res.status_code == 200 and res.json == {"status": "ok", "stage": res.json["stage"]}
    assert probe.pings == 0


def test_the_fresh_deep_check_is_for_admins_only(api, media, probed):
    probe, _ = probed
    assert api.call("GET", "/v1/admin/health").status_code == 401
    assert api.call("GET", "/v1/admin/health", as_user="someone").status_code == 403
    assert probe.pings == 0
    for expected in (1, 2):
        res = api.call("GET", "/v1/admin/health", as_user="ops", admin=True)
        assert res.status_code == 200 and res.json["dependencies"]["counted"]["status"] == "ok"
        assert probe.pings == expected, "the admin check is never cached"


# -- with the real adapter pointed at a port nobody listens on ---------------------------------
@pytest.fixture
def dead_livekit(api, real_media, monkeypatch):
    from chalicelib.container import reset_container
    from tests.fixtures_livekit import free_port

    port = free_port()  # bound then released: nothing listens there now
    monkeypatch.setenv("AIRWAVES_LIVEKIT_URL", f"ws://127.0.0.1:{port}")
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_TIMEOUT_SECONDS", "2")
    reset_container()
    return port


def test_an_unreachable_server_is_503_and_nothing_is_stored(api, dead_livekit):
    api.make_user("host", 1000)
    res = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Now"})
    assert unavailable(res) and res.json["error"]["details"] == {"upstream": "livekit"}
    assert api.call("GET", "/v1/spaces?state=live", as_user="x").json["items"] == []
    health = api.call("GET", "/v1/health").json
    assert health["status"] == "degraded" and health["dependencies"]["livekit"]["status"] == "down"


def test_the_real_adapter_signs_tokens_without_the_server(api, dead_livekit):
    from chalicelib.container import get_container
    from chalicelib.domain.clock import utcnow
    from chalicelib.domain.spaces import Space, SpaceState

    now = utcnow()
    space = Space(id="sp_offline", host_id="h", title="t", state=SpaceState.live, created_at=now, updated_at=now)
    get_container().space_repo.create(space)
    res = api.call("POST", path("sp_offline", "/join"), as_user="alice")
    assert res.status_code == 200 and res.json["livekit_url"] == f"ws://127.0.0.1:{dead_livekit}"
    assert unavailable(api.call("PUT", path("sp_offline", "/speakers/alice"), as_user="h"))
    assert space_of(api, "sp_offline")["speaker_ids"] == []


def space_of(api, space_id):
    return api.call("GET", path(space_id), as_user="x").json
