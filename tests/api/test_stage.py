"""The stage over the API: raised hands, approve/deny, speakers and co-hosts with their caps, each
change applied to the open connection with the full permission object."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import assert_refused, container, race

pytestmark = pytest.mark.usefixtures("refusals_change_nothing")


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


def get_space(api, space_id):
    return api.call("GET", path(space_id), as_user="anyone").json


# -- speak requests --------------------------------------------------------------------------
def test_a_listener_raises_a_hand_and_the_moderators_are_told(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    res = api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    assert res.status_code == 201
    assert res.json["user_id"] == "alice" and res.json["space_id"] == space_id and res.json["requested_at"]
    notice = media.sent[-1]
    assert notice["topic"] == "airwaves.speak_requests" and notice["payload"]["type"] == "hand_raised"
    assert notice["payload"]["user_id"] == "alice" and sorted(notice["to"]) == ["carol", "host"]
    again = api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    assert again.status_code == 201 and again.json["requested_at"] == res.json["requested_at"]


def test_the_queue_is_oldest_first_paged_and_for_moderators_only(api, space_id):
    for user in ("u1", "u2", "u3"):
        assert api.call("POST", path(space_id, "/speak-requests"), as_user=user).status_code == 201
    first = api.call("GET", path(space_id, "/speak-requests?limit=2"), as_user="host")
    assert first.status_code == 200 and [i["user_id"] for i in first.json["items"]] == ["u1", "u2"]
    rest = api.call("GET", path(space_id, f"/speak-requests?limit=2&cursor={first.json['next_cursor']}"),
                    as_user="host")
    assert [i["user_id"] for i in rest.json["items"]] == ["u3"]
    refused = api.call("GET", path(space_id, "/speak-requests"), as_user="u1")
    assert_refused(refused, 403, "forbidden")
    assert api.call("GET", path(space_id, "/speak-requests?cursor=forged"), as_user="host").status_code == 400
    assert api.call("GET", path("sp_missing", "/speak-requests"), as_user="host").status_code == 404


def test_hands_can_be_lowered(api, space_id):
    api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    res = api.call("DELETE", path(space_id, "/speak-requests"), as_user="alice")
    assert res.status_code == 200 and res.json["hand_raised"] is False
    assert api.call("GET", path(space_id, "/speak-requests"), as_user="host").json["items"] == []


def test_only_listeners_of_live_spaces_raise_hands(api, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    res = api.call("POST", path(space_id, "/speak-requests"), as_user="bob")
    assert_refused(res, 409, "invalid_state")
    assert_refused(api.call("POST", path(space_id, "/speak-requests"), as_user="host"), 409)
    assert api.call("POST", path(space_id, "/speak-requests")).status_code == 401
    api.call("POST", path(space_id, "/end"), as_user="host")
    assert_refused(api.call("POST", path(space_id, "/speak-requests"), as_user="alice"), 409)


def test_approving_promotes_the_open_connection_at_once(api, media, space_id):
    media.connect(space_id, "alice", "listener")
    api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    res = api.call("POST", path(space_id, "/speak-requests/alice/approve"), as_user="host")
    assert res.status_code == 200
    assert res.json == {"space_id": space_id, "user_id": "alice", "role": "speaker", "previous_role": "listener",
                        "changed": True, "live": True}
    (_, room, who, role, permission), = media.calls_named("set_role")
    assert (room, who, role) == (space_id, "alice", "speaker")
    assert permission.can_publish and permission.can_subscribe and not permission.can_publish_data
    assert list(permission.can_publish_sources) == [2]  # MICROPHONE only
    assert not permission.hidden and not permission.can_update_metadata
    assert media.connection(space_id, "alice").role == "speaker"
    assert get_space(api, space_id)["speaker_ids"] == ["alice"]
    assert api.call("GET", path(space_id, "/speak-requests"), as_user="host").json["items"] == []


def test_approve_and_deny_need_a_moderator_and_a_pending_request(api, media, space_id):
    api.call("POST", path(space_id, "/speak-requests"), as_user="alice")
    assert_refused(api.call("POST", path(space_id, "/speak-requests/alice/approve"), as_user="bob"), 403)
    missing = api.call("POST", path(space_id, "/speak-requests/zed/approve"), as_user="host")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    denied = api.call("POST", path(space_id, "/speak-requests/alice/deny"), as_user="host")
    assert denied.status_code == 200 and denied.json["status"] == "denied"
    assert media.sent[-1]["payload"]["type"] == "speak_request_denied" and media.sent[-1]["to"] == ["alice"]
    assert api.call("POST", path(space_id, "/speak-requests/alice/deny"), as_user="host").status_code == 404
    assert get_space(api, space_id)["speaker_ids"] == []


# -- speakers --------------------------------------------------------------------------------
def test_inviting_someone_not_connected_takes_effect_at_their_join(api, media, space_id):
    res = api.call("PUT", path(space_id, "/speakers/guest"), as_user="host")
    assert res.status_code == 200 and res.json["live"] is False and res.json["role"] == "speaker"
    assert api.call("POST", path(space_id, "/join"), as_user="guest").json["role"] == "speaker"
    again = api.call("PUT", path(space_id, "/speakers/guest"), as_user="host")
    assert again.status_code == 200 and again.json["changed"] is False


def test_speakers_are_capped_at_ten_and_the_eleventh_gets_speaker_limit(api, space_id):
    for i in range(10):
        assert api.call("PUT", path(space_id, f"/speakers/s{i}"), as_user="host").status_code == 200
    res = api.call("PUT", path(space_id, "/speakers/s10"), as_user="host")
    assert_refused(res, 409, "speaker_limit")
    assert len(get_space(api, space_id)["speaker_ids"]) == 10
    assert api.call("DELETE", path(space_id, "/speakers/s0"), as_user="host").json["role"] == "listener"
    assert api.call("PUT", path(space_id, "/speakers/s10"), as_user="host").status_code == 200


def test_the_speaker_cap_holds_under_concurrent_invites(api, space_id):
    for i in range(8):
        api.call("PUT", path(space_id, f"/speakers/s{i}"), as_user="host")
    stage = container().stage
    made, errors, other = race(6, lambda i: stage.add_speaker("host", space_id, f"n{i}"))
    assert other == [] and len(made) == 2
    assert sorted((e.status, e.code) for e in errors) == [(409, "speaker_limit")] * 4
    assert len(get_space(api, space_id)["speaker_ids"]) == 10


def test_demotion_revokes_publishing_on_the_live_connection(api, media, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    res = api.call("DELETE", path(space_id, "/speakers/bob"), as_user="host")
    assert res.status_code == 200 and res.json["role"] == "listener" and res.json["live"] is True
    permission = media.calls_named("set_role")[-1][4]
    assert permission.can_publish is False and list(permission.can_publish_sources) == []
    assert permission.can_subscribe is True
    assert media.connection(space_id, "bob").publishing is False
    assert get_space(api, space_id)["speaker_ids"] == []


def test_a_speaker_may_step_down_but_not_demote_others(api, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    api.call("PUT", path(space_id, "/speakers/dan"), as_user="host")
    assert_refused(api.call("DELETE", path(space_id, "/speakers/dan"), as_user="bob"), 403)
    assert api.call("DELETE", path(space_id, "/speakers/bob"), as_user="bob").json["role"] == "listener"
    again = api.call("DELETE", path(space_id, "/speakers/bob"), as_user="bob")
    assert again.status_code == 200 and again.json["changed"] is False


def test_speaker_changes_need_a_moderator(api, space_id):
    assert_refused(api.call("PUT", path(space_id, "/speakers/x"), as_user="alice"), 403)
    assert api.call("PUT", path(space_id, "/speakers/x")).status_code == 401
    assert api.call("PUT", path("sp_missing", "/speakers/x"), as_user="host").status_code == 404
    host = api.call("PUT", path(space_id, "/speakers/host"), as_user="host")
    assert_refused(host, 409, "invalid_state")


def test_speakers_can_be_invited_before_a_scheduled_space_starts(api, media):
    api.make_user("host", 1000)
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Later", "scheduled_start": start}).json["id"]
    res = api.call("PUT", path(sid, "/speakers/guest"), as_user="host")
    assert res.status_code == 200 and res.json["live"] is False
    assert media.calls_named("set_role") == []
    api.call("DELETE", path(sid), as_user="host")
    assert api.call("PUT", path(sid, "/speakers/other"), as_user="host").json["error"]["code"] == "invalid_state"


# -- co-hosts --------------------------------------------------------------------------------
def test_cohosts_are_host_only_capped_at_two_and_free_a_speaker_seat(api, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    res = api.call("PUT", path(space_id, "/cohosts/bob"), as_user="host")
    assert res.status_code == 200 and res.json["previous_role"] == "speaker" and res.json["role"] == "cohost"
    space = get_space(api, space_id)
    assert space["cohost_ids"] == ["bob"] and space["speaker_ids"] == []
    assert_refused(api.call("PUT", path(space_id, "/cohosts/carol"), as_user="bob"), 403)
    assert api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host").status_code == 200
    third = api.call("PUT", path(space_id, "/cohosts/dan"), as_user="host")
    assert_refused(third, 409, "speaker_limit")
    assert third.json["error"]["details"] == {"role": "cohost", "limit": 2}
    assert_refused(api.call("DELETE", path(space_id, "/cohosts/bob"), as_user="carol"), 403)
    assert api.call("DELETE", path(space_id, "/cohosts/bob"), as_user="host").json["role"] == "listener"
    assert get_space(api, space_id)["cohost_ids"] == ["carol"]


def test_a_cohost_moderates_the_stage(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    assert api.call("PUT", path(space_id, "/speakers/bob"), as_user="carol").status_code == 200
    wrong_route = api.call("DELETE", path(space_id, "/speakers/carol"), as_user="host")
    assert wrong_route.status_code == 409 and wrong_route.json["error"]["details"] == {"role": "cohost"}


def test_every_role_change_reaches_the_lifecycle(api, space_id, monkeypatch):
    from chalicelib.container import get_container

    seen = []
    lifecycle = get_container().lifecycle
    monkeypatch.setattr(lifecycle, "after_role_change",
                        lambda space, user, role: seen.append((space.id, user, role, space.speaker_ids,
                                                               space.cohost_ids)), raising=False)
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")  # no change: no call
    api.call("PUT", path(space_id, "/cohosts/bob"), as_user="host")
    api.call("DELETE", path(space_id, "/cohosts/bob"), as_user="host")
    api.call("POST", path(space_id, "/speak-requests"), as_user="amy")
    api.call("POST", path(space_id, "/speak-requests/amy/approve"), as_user="host")
    assert seen == [(space_id, "bob", "speaker", ["bob"], []), (space_id, "bob", "cohost", [], ["bob"]),
                    (space_id, "bob", "listener", [], []), (space_id, "amy", "speaker", ["amy"], [])]


def hand_notices(media, user: str) -> list[dict]:
    return [m for m in media.sent if m["topic"] == "airwaves.speak_requests"
            and m["payload"]["type"] in ("hand_raised", "hand_lowered") and m["payload"]["user_id"] == user]


def test_raising_a_raised_hand_tells_the_hosts_only_once(api, media, space_id):
    for _ in range(3):
        assert api.call("POST", path(space_id, "/speak-requests"), as_user="alice").status_code == 201
    assert [m["payload"]["type"] for m in hand_notices(media, "alice")] == ["hand_raised"]


def test_concurrent_raises_of_one_hand_send_one_notice(api, media, space_id):
    """Services driven directly from several threads at once (the Chalice client is not thread-safe)."""
    import sys
    import threading

    stage = container().stage
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def raise_once() -> None:
        barrier.wait()
        try:
            stage.raise_hand("zed", space_id)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=raise_once) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert len(hand_notices(media, "zed")) == 1


def test_raise_and_lower_are_rate_limited_like_reactions(api, media, space_id, monkeypatch):
    monkeypatch.setattr(container().stage, "hand_limit", 4)
    monkeypatch.setattr(container().stage, "hand_window_seconds", 3600)  # no window edge mid-test
    codes = []
    for i in range(8):
        method = "POST" if i % 2 == 0 else "DELETE"
        codes.append(api.call(method, path(space_id, "/speak-requests"), as_user="spammy").status_code)
    assert codes[:4] == [201, 200, 201, 200]
    assert set(codes[4:]) == {429}
    res = api.call("POST", path(space_id, "/speak-requests"), as_user="spammy")
    assert res.status_code == 429 and res.json["error"]["code"] == "rate_limited"
    assert res.json["error"]["details"]["limit"] == 4 and res.json["error"]["details"]["retry_after_seconds"] >= 1
    assert len(hand_notices(media, "spammy")) == 4
    assert api.call("POST", path(space_id, "/speak-requests"), as_user="calm").status_code == 201, "per person"
