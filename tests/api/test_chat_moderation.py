"""Chat moderation over the API (moto): chat-mutes, personal blocks, reports, the moderation log."""
from __future__ import annotations

import pytest

from chalicelib.domain.chat import TOPIC_CHAT
from tests.helpers import assert_refused

pytestmark = pytest.mark.usefixtures("refusals_change_nothing")


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


def send(api, space_id: str, user: str, text: str, to: str | None = None):
    body = {"text": text} if to is None else {"text": text, "to_user_id": to}
    return api.call("POST", path(space_id, "/messages"), as_user=user, body=body)


@pytest.fixture(autouse=True)
def _no_rate_limit(monkeypatch):
    import chalicelib.services.chat as chat

    monkeypatch.setattr(chat, "MESSAGE_LIMIT", 1000)


# -- chat mutes ------------------------------------------------------------------------------
def test_a_chat_muted_listener_gets_403_but_still_joins_and_reads(api, media, space_id):
    assert send(api, space_id, "bob", "before").status_code == 201
    res = api.call("PUT", path(space_id, "/chat-mutes/bob"), as_user="host")
    assert res.status_code == 200 and res.json == {"space_id": space_id, "user_id": "bob", "chat_muted": True,
                                                   "changed": True}
    assert api.call("PUT", path(space_id, "/chat-mutes/bob"), as_user="host").json["changed"] is False
    muted = send(api, space_id, "bob", "let me talk")
    assert_refused(muted, 403, "chat_muted")
    assert api.call("POST", path(space_id, "/join"), as_user="bob").status_code == 200
    assert [m["text"] for m in api.call("GET", path(space_id, "/messages"), as_user="bob").json["items"]] == ["before"]
    assert send(api, space_id, "alice", "others still talk").status_code == 201
    unmuted = api.call("DELETE", path(space_id, "/chat-mutes/bob"), as_user="host")
    assert unmuted.status_code == 200 and unmuted.json["chat_muted"] is False and unmuted.json["changed"] is True
    assert send(api, space_id, "bob", "thanks").status_code == 201
    assert len([s for s in media.sent if s["topic"] == TOPIC_CHAT]) == 3


def test_chat_mutes_are_for_moderators_and_spare_the_host(api, space_id):
    api.call("PUT", path(space_id, "/cohosts/c1"), as_user="host")
    api.call("PUT", path(space_id, "/cohosts/c2"), as_user="host")
    assert_refused(api.call("PUT", path(space_id, "/chat-mutes/bob"), as_user="alice"), 403)
    assert_refused(api.call("PUT", path(space_id, "/chat-mutes/host"), as_user="c1"), 403)
    assert_refused(api.call("PUT", path(space_id, "/chat-mutes/c2"), as_user="c1"), 403)
    assert api.call("PUT", path(space_id, "/chat-mutes/bob"), as_user="c1").status_code == 200
    assert api.call("PUT", path(space_id, "/chat-mutes/c2"), as_user="host").status_code == 200
    assert api.call("PUT", path(space_id, "/chat-mutes/bob")).status_code == 401
    assert api.call("PUT", path("sp_missing", "/chat-mutes/bob"), as_user="host").status_code == 404
    api.call("POST", path(space_id, "/end"), as_user="host")
    assert_refused(api.call("PUT", path(space_id, "/chat-mutes/zed"), as_user="host"), 409)


# -- blocks ----------------------------------------------------------------------------------
def test_someone_the_host_or_a_cohost_blocks_cannot_join_or_speak_up(api, space_id):
    for user in ("troll", "pest", "carol"):
        api.make_user(user)
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    res = api.call("PUT", "/v1/me/blocks/troll", as_user="host")
    assert res.status_code == 200 and res.json == {"user_id": "troll", "blocked": True, "changed": True}
    assert api.call("PUT", "/v1/me/blocks/troll", as_user="host").json["changed"] is False
    api.call("PUT", "/v1/me/blocks/pest", as_user="carol")
    for user in ("troll", "pest"):
        joined = api.call("POST", path(space_id, "/join"), as_user=user)
        assert joined.status_code == 403 and joined.json["error"]["code"] == "banned", user
        assert send(api, space_id, user, "hi").json["error"]["code"] == "banned"
        reacted = api.call("POST", path(space_id, "/reactions"), as_user=user, body={"emoji": "🔥"})
        assert reacted.status_code == 403
    assert api.call("POST", path(space_id, "/join"), as_user="alice").status_code == 200
    listed = api.call("GET", "/v1/me/blocks", as_user="host")
    assert [b["user_id"] for b in listed.json["items"]] == ["troll"] and listed.json["items"][0]["blocked_at"]
    gone = api.call("DELETE", "/v1/me/blocks/troll", as_user="host")
    assert gone.status_code == 200 and gone.json == {"user_id": "troll", "blocked": False, "changed": True}
    assert api.call("POST", path(space_id, "/join"), as_user="troll").status_code == 200
    assert api.call("GET", "/v1/me/blocks", as_user="host").json["items"] == []


def test_a_blocked_person_cannot_message_the_blocker_privately(api, space_id):
    for user in ("alice", "bob"):
        api.make_user(user)
    api.call("PUT", "/v1/me/blocks/bob", as_user="alice")
    res = send(api, space_id, "bob", "hey", to="alice")
    assert_refused(res, 403, "forbidden")
    assert send(api, space_id, "bob", "in public").status_code == 201  # the host did not block bob
    assert send(api, space_id, "alice", "I can still write", to="bob").status_code == 201


def test_block_rules(api):
    api.make_user("alice")
    me = api.call("PUT", "/v1/me/blocks/alice", as_user="alice")
    assert me.status_code == 403 and me.json["error"]["code"] == "forbidden"
    assert api.call("PUT", "/v1/me/blocks/ghost", as_user="alice").status_code == 404
    assert api.call("PUT", "/v1/me/blocks/alice").status_code == 401
    assert api.call("DELETE", "/v1/me/blocks/nobody", as_user="alice").json["changed"] is False


def test_a_cohost_blocked_by_the_host_still_cannot_lock_the_host_out(api, space_id):
    api.make_user("carol")
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    api.call("PUT", "/v1/me/blocks/host", as_user="carol")
    assert api.call("POST", path(space_id, "/join"), as_user="host").status_code == 200


# -- reports ---------------------------------------------------------------------------------
def test_anyone_reports_and_admins_list_reports_newest_first(api, space_id):
    message = send(api, space_id, "troll", "something nasty").json
    first = api.call("POST", "/v1/reports", as_user="alice",
                     body={"space_id": space_id, "message_id": message["id"], "reason": "  abuse  "})
    assert first.status_code == 201, first.body
    assert first.json["user_id"] == "troll" and first.json["message_text"] == "something nasty"
    assert first.json["reason"] == "abuse" and first.json["reporter_id"] == "alice"
    api.call("DELETE", path(space_id, f"/messages/{message['id']}"), as_user="host")
    second = api.call("POST", "/v1/reports", as_user="bob", body={"space_id": space_id, "reason": "spam room"})
    assert second.status_code == 201 and second.json["user_id"] is None
    listed = api.call("GET", "/v1/admin/reports", as_user="root", admin=True)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json["items"]] == [second.json["id"], first.json["id"]]
    assert listed.json["items"][1]["message_text"] == "something nasty"  # kept after the deletion
    assert_refused(api.call("GET", "/v1/admin/reports", as_user="alice"), 403)
    paged = api.call("GET", "/v1/admin/reports?limit=1", as_user="root", admin=True).json
    assert len(paged["items"]) == 1 and paged["next_cursor"]


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "x"}, "space_id"), ({"space_id": "SPACE", "reason": ""}, "reason"),
    ({"space_id": "SPACE", "reason": "x" * 501}, "reason"), ({"space_id": "SPACE", "reason": "\u200b \u200b"}, "reason"),
])
def test_bad_reports_get_400_naming_the_field(api, space_id, body, field):
    if body.get("space_id") == "SPACE":
        body = {**body, "space_id": space_id}
    res = api.call("POST", "/v1/reports", as_user="alice", body=body)
    assert res.status_code == 400 and field in [d["field"] for d in res.json["error"]["details"]]


@pytest.mark.parametrize("body", [{"space_id": "sp_missing", "reason": "x"},
                                  {"space_id": "SPACE", "reason": "x", "message_id": "m_nope"}])
def test_reports_of_what_does_not_exist_get_404(api, space_id, body):
    if body.get("space_id") == "SPACE":
        body = {**body, "space_id": space_id}
    res = api.call("POST", "/v1/reports", as_user="alice", body=body)
    assert res.status_code == 404 and res.json["error"]["code"] == "not_found"


def test_a_private_message_is_reported_only_by_its_parties(api, space_id):
    api.make_user("bob")
    private = send(api, space_id, "alice", "psst", to="bob").json["id"]
    other = api.call("POST", "/v1/reports", as_user="eve", body={"space_id": space_id, "message_id": private,
                                                                 "reason": "x"})
    assert other.status_code == 404
    bob = api.call("POST", "/v1/reports", as_user="bob", body={"space_id": space_id, "message_id": private,
                                                               "reason": "x"})
    assert bob.status_code == 201


# -- the moderation log ----------------------------------------------------------------------
def test_the_host_lists_every_moderation_action_with_who_and_when(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    message = send(api, space_id, "zed", "rude").json["id"]
    own = send(api, space_id, "amy", "typo").json["id"]
    api.call("DELETE", path(space_id, f"/messages/{own}"), as_user="amy")  # not moderation: not logged
    api.call("PUT", path(space_id, "/chat-mutes/zed"), as_user="carol")
    api.call("DELETE", path(space_id, f"/messages/{message}"), as_user="carol")
    api.call("DELETE", path(space_id, "/chat-mutes/zed"), as_user="host")
    api.call("POST", path(space_id, "/participants/bob/mute"), as_user="carol")
    api.call("POST", path(space_id, "/participants/zed/remove"), as_user="host")
    res = api.call("GET", path(space_id, "/moderation-log"), as_user="host")
    assert res.status_code == 200
    got = [(e["action"], e["actor_id"], e["target_user_id"]) for e in res.json["items"]]
    assert got == [("remove", "host", "zed"), ("microphone_mute", "carol", "bob"), ("chat_unmute", "host", "zed"),
                   ("message_delete", "carol", "zed"), ("chat_mute", "carol", "zed")]
    assert res.json["items"][3]["message_id"] == message and all(e["at"].endswith("Z") for e in res.json["items"])
    page = api.call("GET", path(space_id, "/moderation-log?limit=2"), as_user="host").json
    rest = api.call("GET", path(space_id, f"/moderation-log?cursor={page['next_cursor']}"), as_user="host").json
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in res.json["items"]]
    assert_refused(api.call("GET", path(space_id, "/moderation-log"), as_user="carol"), 403)
    assert api.call("GET", path("sp_missing", "/moderation-log"), as_user="host").status_code == 404


def test_a_repeated_moderation_action_changes_nothing_and_logs_nothing_more(api, space_id):
    """Each action is logged in the same transaction as its change, and only when it changed
    something: muting the muted, unmuting the unmuted, deleting the deleted, pinning what is
    pinned or unpinning nothing adds no entry (a second moderator doing it neither)."""
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    message = send(api, space_id, "zed", "rude").json["id"]
    for caller in ("host", "carol"):
        assert api.call("PUT", path(space_id, "/chat-mutes/zed"), as_user=caller).json["changed"] is (caller == "host")
    for caller in ("host", "carol"):
        unmuted = api.call("DELETE", path(space_id, "/chat-mutes/zed"), as_user=caller).json
        assert unmuted["changed"] is (caller == "host")
    assert api.call("DELETE", path(space_id, f"/messages/{message}"), as_user="host").status_code == 204
    assert_refused(api.call("DELETE", path(space_id, f"/messages/{message}"), as_user="carol"), 404)
    first = api.call("PUT", path(space_id, "/pin"), as_user="host", body={"text": "rules"}).json["pinned"]
    assert api.call("PUT", path(space_id, "/pin"), as_user="carol", body={"text": " rules "}).json["pinned"] == first
    other = api.call("PUT", path(space_id, "/pin"), as_user="carol", body={"text": "rules", "url": "https://a.example"})
    assert other.json["pinned"]["url"] == "https://a.example" and other.json["pinned"]["pinned_by"] == "carol"
    for caller in ("host", "carol"):
        assert api.call("DELETE", path(space_id, "/pin"), as_user=caller).json["pinned"] is None
    log = api.call("GET", path(space_id, "/moderation-log"), as_user="host").json["items"]
    assert [(e["action"], e["actor_id"], e["target_user_id"]) for e in log] == [
        ("unpin", "host", None), ("pin", "carol", None), ("pin", "host", None), ("message_delete", "host", "zed"),
        ("chat_unmute", "host", "zed"), ("chat_mute", "host", "zed")]
    assert log[1]["id"] != log[2]["id"] and log[3]["message_id"] == message
