"""Audiences past one media node (issue 16) on moto: the WebRTC cap on listener joins, the HLS
answer past it, the live playlist its link serves, seats released by the media server's
webhooks, listener counts with HLS listeners, and promotion back to WebRTC."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chalicelib.domain.hls import hls_listener_count, read_listen_token, sign_listen_token
from chalicelib.domain.media import JoinGrant
from tests.api.test_livekit_webhook import deliver, event
from tests.fixtures_media import bucket, s3
from tests.helpers import container, race, space_item


@pytest.fixture
def cap(monkeypatch):
    """A WebRTC cap of one listener per Space."""
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_WEBRTC_LISTENER_CAP", "1")
    reset_container()
    return 1


def join(api, space_id, user):
    res = api.call("POST", f"/v1/spaces/{space_id}/join", as_user=user)
    assert res.status_code == 200, res.body
    return res.json


def live_path(hls_url: str) -> str:
    parts = urlsplit(hls_url)
    return f"{parts.path}?{parts.query}"


def write_live(space_id: str, n: int, *, first: int = 0, ended: bool = False) -> None:
    """The worker's live playlist with ``n`` segments numbered from ``first`` (segments in S3)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for seq in range(first, first + n):
        s3().put_object(Bucket=bucket(), Key=f"spaces/{space_id}/live/{seq:06d}.ts", Body=f"TS {seq}".encode())
        lines += ["#EXTINF:2.000,", f"{seq:06d}.ts"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    s3().put_object(Bucket=bucket(), Key=f"spaces/{space_id}/live/playlist.m3u8", Body="\n".join(lines).encode())


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_past_the_cap_a_listener_gets_hls_and_the_stage_never_counts(api, media, space_id, cap):
    first = join(api, space_id, "alice")
    assert first["transport"] == "webrtc" and first["role"] == "listener"
    second = join(api, space_id, "bob")
    assert set(second) == {"transport", "hls_url", "role", "expires_at"}, second
    assert second["transport"] == "hls" and second["role"] == "listener"
    assert urlsplit(second["hls_url"]).path == f"/v1/spaces/{space_id}/live.m3u8"
    expires = datetime.fromisoformat(second["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    # a rejoin keeps alice's seat (no second one), and the stage joins over WebRTC past the cap
    assert join(api, space_id, "alice")["transport"] == "webrtc"
    assert join(api, space_id, "host")["transport"] == "webrtc"
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/sam", as_user="host").status_code == 200
    assert join(api, space_id, "sam")["transport"] == "webrtc"
    assert join(api, space_id, "carol")["transport"] == "hls"
    assert space_item(space_id)["webrtc_seats"] == 1


def test_the_first_overflow_turns_live_hls_on_for_the_worker_and_sends_it(api, media, worker, cap):
    api.make_user("quiet", 1000)
    space = api.call("POST", "/v1/spaces", as_user="quiet",
                     body={"title": "Quiet", "recording": False, "captions": False, "clips_enabled": False}).json
    assert media.dispatches == {} and worker.state(space["id"])["hls_live"] is False
    join(api, space["id"], "alice")
    assert worker.state(space["id"])["hls_live"] is False
    assert join(api, space["id"], "bob")["transport"] == "hls"
    assert worker.state(space["id"])["hls_live"] is True
    assert media.dispatches == {(space["id"], "airwaves-media"): {"space_id": space["id"]}}
    join(api, space["id"], "carol")
    assert len(media.calls_named("dispatch_agent")) == 1  # only the first overflow asks


def test_the_live_playlist_is_a_sliding_window_of_presigned_segments(api, media, worker, space_id, cap):
    join(api, space_id, "alice")
    link = live_path(join(api, space_id, "bob")["hls_url"])
    res = api.call("GET", link)
    assert res.status_code == 200 and res.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert res.headers["Cache-Control"] == "no-store"
    assert res.body.decode().startswith("#EXTM3U") and uris(res.body.decode()) == []  # nothing cut yet
    write_live(space_id, 10, first=3)
    text = api.call("GET", link).body.decode()
    assert "#EXT-X-ENDLIST" not in text and "#EXT-X-PLAYLIST-TYPE" not in text
    assert "#EXT-X-MEDIA-SEQUENCE:7" in text.splitlines()
    got = uris(text)
    assert len(got) == 6
    for seq, url in zip(range(7, 13), got, strict=True):
        assert url.startswith("http") and "X-Amz-Expires=120" in url
        assert requests.get(url, timeout=5).content == f"TS {seq}".encode()
    write_live(space_id, 4, first=20, ended=True)
    assert api.call("GET", link).body.decode().rstrip().endswith("#EXT-X-ENDLIST")


def test_the_live_link_is_for_its_space_and_listener_only(api, media, worker, space_id, cap):
    join(api, space_id, "alice")
    hls_url = join(api, space_id, "bob")["hls_url"]
    token = parse_qs(urlsplit(hls_url).query)["token"][0]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nope", token + "x"):
        res = api.call("GET", f"/v1/spaces/{space_id}/live.m3u8?token={bad}")
        assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated", bad
    api.make_user("other", 1000)
    other = api.call("POST", "/v1/spaces", as_user="other", body={"title": "Other"}).json["id"]
    assert api.call("GET", f"/v1/spaces/{other}/live.m3u8?token={token}").status_code == 401
    assert api.call("GET", f"/v1/spaces/{space_id}/live.m3u8").status_code == 400
    assert api.call("POST", f"/v1/spaces/{space_id}/participants/bob/remove", as_user="host").status_code == 200
    res = api.call("GET", live_path(hls_url))
    assert res.status_code == 403 and res.json["error"]["code"] == "banned"


def test_listen_tokens_expire_and_name_their_listener():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    token = sign_listen_token("k", "sp_1", "bob", at + timedelta(minutes=10))
    assert read_listen_token("k", token, "sp_1", at) == "bob"
    assert read_listen_token("k", token, "sp_1", at + timedelta(minutes=10)) is None
    assert read_listen_token("other key", token, "sp_1", at) is None
    assert read_listen_token("k", token, "sp_2", at) is None


def test_hls_listeners_count_once_per_window_in_the_listener_count(api, media, worker, space_id, cap):
    assert deliver(api, event("participant_joined", space_id, "host", role="host")).json["outcome"] == "counted"
    join(api, space_id, "alice")
    links = [live_path(join(api, space_id, u)["hls_url"]) for u in ("bob", "carol")]
    write_live(space_id, 2)
    for link in links + links + links[:1]:
        assert api.call("GET", link).status_code == 200
    space = api.call("GET", f"/v1/spaces/{space_id}", as_user="x").json
    assert (space["listener_count"], space["hls_listener_count"]) == (3, 2)  # the host's connection + 2 over HLS
    participants = api.call("GET", f"/v1/spaces/{space_id}/participants", as_user="host").json
    assert (participants["listener_count"], participants["hls_listener_count"]) == (3, 2)


def test_the_hls_count_is_the_larger_of_this_and_the_last_window():
    now = datetime(2026, 1, 1, 0, 0, 45, tzinfo=UTC)  # window w = ...; the previous one ended 15 s ago
    w = int(now.timestamp() // 30)
    assert hls_listener_count({w: 3, w - 1: 5}, now) == 5
    assert hls_listener_count({w: 7, w - 1: 5}, now) == 7
    assert hls_listener_count({w - 2: 9}, now) == 0  # nobody fetched in the last 45 s


def test_a_seat_is_freed_when_its_connection_leaves_and_not_by_an_older_one(api, media, space_id, cap):
    assert join(api, space_id, "alice")["transport"] == "webrtc"
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_a1", role="listener"))
    # alice connects again (LiveKit replaces her first connection): the old one's leave keeps her seat
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_a2", role="listener"))
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a1", role="listener"))
    assert join(api, space_id, "bob")["transport"] == "hls"
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a2", role="listener"))
    assert space_item(space_id)["webrtc_seats"] == 0
    assert join(api, space_id, "bob")["transport"] == "webrtc"
    assert join(api, space_id, "alice")["transport"] == "hls"


def test_a_listener_connected_without_a_seat_takes_one_so_counts_stay_exact(api, media, space_id, cap):
    join(api, space_id, "alice")
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a1", role="listener"))  # overtook its join
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_a2", role="listener"))
    assert space_item(space_id)["webrtc_seats"] == 1
    assert join(api, space_id, "bob")["transport"] == "hls"


def test_a_promoted_hls_listener_joins_again_over_webrtc(api, media, space_id, cap):
    join(api, space_id, "alice")
    assert join(api, space_id, "bob")["transport"] == "hls"
    assert api.call("POST", f"/v1/spaces/{space_id}/speak-requests", as_user="bob").status_code == 201
    res = api.call("POST", f"/v1/spaces/{space_id}/speak-requests/bob/approve", as_user="host")
    assert res.status_code == 200, res.body
    again = join(api, space_id, "bob")
    assert again["transport"] == "webrtc" and again["role"] == "speaker" and again["token"]
    assert space_item(space_id)["webrtc_seats"] == 1  # the speaker took no listener seat


def test_concurrent_joins_take_exactly_the_cap_of_webrtc_seats(api, media, space_id, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_WEBRTC_LISTENER_CAP", "5")
    reset_container()
    joins = container().joins
    results, errors, other = race(16, lambda i: joins.join(f"u{i}", space_id))
    assert errors == [] and other == []
    assert sum(isinstance(r, JoinGrant) for r in results) == 5 and len(results) == 16
    assert space_item(space_id)["webrtc_seats"] == 5


# -- seats nobody connected to -----------------------------------------------------------------------
GRACE = timedelta(seconds=90)  # Settings.webrtc_seat_grace_seconds


@pytest.fixture
def clock(monkeypatch):
    """The overflow service's clock, moved on by ``clock.pass_(seconds)``."""
    from chalicelib.services import overflow

    class Clock:
        now = datetime.now(UTC)

        def pass_(self, delta: timedelta) -> None:
            self.now += delta

    c = Clock()
    monkeypatch.setattr(overflow, "utcnow", lambda: c.now)
    return c


def seat_items(space_id: str) -> dict[str, dict]:
    from chalicelib.adapters.dynamodb import keys

    items, _ = container().table.query(KeyConditionExpression="PK = :pk AND begins_with(SK, :seat)",
                                       ExpressionAttributeValues={":pk": {"S": keys.space_pk(space_id)},
                                                                  ":seat": {"S": "SEAT#"}})
    return {i["user_id"]: i for i in items}


def test_a_seat_nobody_connected_to_is_freed_after_the_grace_period(api, media, space_id, cap, clock):
    assert join(api, space_id, "alice")["transport"] == "webrtc"  # alice's app never connects
    assert join(api, space_id, "bob")["transport"] == "hls"  # within the grace period the seat is hers
    clock.pass_(GRACE - timedelta(seconds=5))
    assert join(api, space_id, "bob")["transport"] == "hls"
    clock.pass_(timedelta(seconds=10))
    assert join(api, space_id, "carol")["transport"] == "webrtc"
    assert set(seat_items(space_id)) == {"carol"} and space_item(space_id)["webrtc_seats"] == 1
    assert join(api, space_id, "alice")["transport"] == "hls"


def test_a_connected_listeners_seat_is_never_swept(api, media, space_id, cap, clock):
    assert join(api, space_id, "alice")["transport"] == "webrtc"
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_a1", role="listener"))
    for _ in range(3):
        clock.pass_(GRACE * 4)
        assert join(api, space_id, "bob")["transport"] == "hls"
    assert set(seat_items(space_id)) == {"alice"} and space_item(space_id)["webrtc_seats"] == 1
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a1", role="listener"))
    assert join(api, space_id, "bob")["transport"] == "webrtc"


def test_a_rejoin_restarts_the_grace_period_of_its_seat(api, media, space_id, cap, clock):
    join(api, space_id, "alice")
    clock.pass_(GRACE - timedelta(seconds=10))
    assert join(api, space_id, "alice")["transport"] == "webrtc"  # fresh credentials: she connects now
    clock.pass_(timedelta(seconds=30))
    assert join(api, space_id, "bob")["transport"] == "hls"
    assert set(seat_items(space_id)) == {"alice"}


def test_concurrent_joins_at_a_full_space_free_each_stale_seat_once(api, media, space_id, monkeypatch, clock):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_WEBRTC_LISTENER_CAP", "5")
    reset_container()
    joins = container().joins
    for i in range(5):
        assert isinstance(joins.join(f"gone{i}", space_id), JoinGrant)
    deliver(api, event("participant_joined", space_id, "gone0", sid="PA_g0", role="listener"))  # one connected
    clock.pass_(GRACE + timedelta(seconds=1))
    results, errors, other = race(12, lambda i: joins.join(f"u{i}", space_id))
    assert errors == [] and other == []
    winners = sum(isinstance(r, JoinGrant) for r in results)
    seats = seat_items(space_id)
    joined = {u for u in seats if u.startswith("u")}
    assert set(seats) == {"gone0"} | joined  # the four stale seats freed, the connected one kept
    assert len(joined) == winners and 1 <= winners <= 4
    assert space_item(space_id)["webrtc_seats"] == len(seats)


# -- the stage and the seats -------------------------------------------------------------------------
def connect(api, media, space_id: str, user: str, sid: str) -> None:
    """``user``'s app connects to the room as a listener (the media server and its webhook)."""
    media.connect(space_id, user, "listener")
    deliver(api, event("participant_joined", space_id, user, sid=sid, role="listener"))


def test_a_webrtc_listener_going_on_stage_gives_their_seat_back(api, media, space_id, cap):
    assert join(api, space_id, "alice")["transport"] == "webrtc"
    connect(api, media, space_id, "alice", "PA_a1")
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").status_code == 200
    assert seat_items(space_id) == {} and space_item(space_id)["webrtc_seats"] == 0
    assert join(api, space_id, "bob")["transport"] == "webrtc"
    assert join(api, space_id, "alice")["transport"] == "webrtc"  # a speaker, outside the cap
    # her connection leaving later frees nothing of bob's
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a1", role="speaker"))
    assert set(seat_items(space_id)) == {"bob"} and space_item(space_id)["webrtc_seats"] == 1


def test_a_promoted_listeners_late_connection_takes_no_seat(api, media, space_id, cap):
    join(api, space_id, "alice")  # a listener's token ...
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").status_code == 200
    connect(api, media, space_id, "alice", "PA_a1")  # ... used after her promotion
    assert seat_items(space_id) == {} and space_item(space_id)["webrtc_seats"] == 0


def test_a_speaker_demoted_while_connected_keeps_webrtc_past_a_full_cap(api, media, space_id, cap, clock):
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").status_code == 200
    assert join(api, space_id, "alice")["transport"] == "webrtc"
    media.connect(space_id, "alice", "speaker")
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_a1", role="speaker"))
    assert join(api, space_id, "bob")["transport"] == "webrtc"  # the one listener seat
    connect(api, media, space_id, "bob", "PA_b1")
    assert api.call("DELETE", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").json["role"] == "listener"
    assert set(seat_items(space_id)) == {"alice", "bob"} and space_item(space_id)["webrtc_seats"] == 2
    assert join(api, space_id, "alice")["transport"] == "webrtc"  # her app refreshing its credentials
    clock.pass_(GRACE * 2)
    assert join(api, space_id, "carol")["transport"] == "hls"  # full, and her seat is in use: not swept
    assert "alice" in seat_items(space_id)
    deliver(api, event("participant_left", space_id, "alice", sid="PA_a1", role="listener"))
    assert set(seat_items(space_id)) == {"bob"} and space_item(space_id)["webrtc_seats"] == 1


def test_a_speaker_demoted_while_away_is_a_listener_like_any_other(api, media, space_id, cap):
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").status_code == 200
    join(api, space_id, "bob")
    assert api.call("DELETE", f"/v1/spaces/{space_id}/speakers/alice", as_user="host").json["role"] == "listener"
    assert set(seat_items(space_id)) == {"bob"}
    assert join(api, space_id, "alice")["transport"] == "hls"


def test_one_sweep_frees_at_most_its_limit_of_seats_and_the_next_the_rest(api, media, space_id, monkeypatch, clock):
    from chalicelib.adapters.dynamodb import audience
    from chalicelib.container import reset_container

    monkeypatch.setattr(audience, "_RELEASE_BATCH", 2)
    monkeypatch.setattr(audience, "SWEEP_LIMIT", 3)
    monkeypatch.setenv("AIRWAVES_WEBRTC_LISTENER_CAP", "5")
    reset_container()
    joins = container().joins
    for i in range(5):
        assert isinstance(joins.join(f"gone{i}", space_id), JoinGrant)
        clock.pass_(timedelta(seconds=1))
    clock.pass_(GRACE)
    assert isinstance(joins.join("new0", space_id), JoinGrant)  # the sweep freed gone0-2, the oldest
    assert set(seat_items(space_id)) == {"gone3", "gone4", "new0"}
    assert isinstance(joins.join("new1", space_id), JoinGrant)
    assert isinstance(joins.join("new2", space_id), JoinGrant)
    assert not isinstance(joins.join("new3", space_id), JoinGrant)  # full, and swept a moment ago
    clock.pass_(timedelta(seconds=6))
    assert isinstance(joins.join("new3", space_id), JoinGrant)
    assert set(seat_items(space_id)) == {"new0", "new1", "new2", "new3"}
    assert space_item(space_id)["webrtc_seats"] == 4
