"""In-room messages over the API (moto): sending, validation, delivery, the rate, history, deletion."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.chat import MESSAGE_LIMIT, TEXT_MAX, TOPIC_CHAT


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


def send(api, space_id: str, user: str, text: str, to: str | None = None, **kw):
    body = {"text": text} if to is None else {"text": text, "to_user_id": to}
    return api.call("POST", path(space_id, "/messages"), as_user=user, body=body, **kw)


def chats(media) -> list[dict]:
    return [s for s in media.sent if s["topic"] == TOPIC_CHAT]


@pytest.fixture(autouse=True)
def _no_rate_limit_by_default(monkeypatch):
    """Most tests send more than one window's worth; the rate has its own test."""
    import chalicelib.services.chat as chat

    monkeypatch.setattr(chat, "MESSAGE_LIMIT", 1000)


def test_a_message_is_stored_and_delivered_to_everyone(api, media, space_id):
    res = send(api, space_id, "alice", "  hello room  ")
    assert res.status_code == 201, res.body
    body = res.json
    assert body["text"] == "hello room" and body["from_user_id"] == "alice" and body["to_user_id"] is None
    assert body["space_id"] == space_id and body["created_at"].endswith("Z") and body["id"].startswith("m")
    [sent] = chats(media)
    assert sent["to"] == [] and sent["payload"] == body  # no destination: everyone, the message as JSON
    listed = api.call("GET", path(space_id, "/messages"), as_user="bob")
    assert listed.status_code == 200 and listed.json["items"] == [body] and listed.json["next_cursor"] is None


def test_a_private_message_reaches_and_lists_only_its_two_parties(api, media, space_id):
    api.make_user("bob")
    res = send(api, space_id, "alice", "psst", to="bob")
    assert res.status_code == 201 and res.json["to_user_id"] == "bob"
    assert chats(media)[-1]["to"] == ["alice", "bob"]
    send(api, space_id, "carol", "public")
    for viewer, expected in (("alice", ["public", "psst"]), ("bob", ["public", "psst"]), ("carol", ["public"]),
                             ("host", ["public"])):
        items = api.call("GET", path(space_id, "/messages"), as_user=viewer).json["items"]
        assert [m["text"] for m in items] == expected, viewer


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"), ({"text": "   "}, "text"), ({"text": "x" * (TEXT_MAX + 1)}, "text"),
    ({"text": "bell\x07"}, "text"), ({"text": "nul\x00"}, "text"), ({"text": "rtl\u202e"}, "text"),
    ({}, "text"), ({"text": 5}, "text"), ({"text": "hi", "to_user_id": "ghost"}, "to_user_id"),
    ({"text": "hi", "to_user_id": "alice"}, "to_user_id"), ({"text": "hi", "to_user_id": "bad id!"}, "to_user_id"),
    ({"text": "hi", "extra": 1}, "extra"),
])
def test_bad_text_and_recipients_get_400_naming_the_field(api, media, space_id, body, field):
    res = api.call("POST", path(space_id, "/messages"), as_user="alice", body=body)
    assert res.status_code == 400 and res.json["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in res.json["error"]["details"]]
    assert chats(media) == []


def test_the_longest_message_and_line_breaks_and_emoji_are_fine(api, space_id):
    assert send(api, space_id, "alice", "é" * TEXT_MAX).status_code == 201
    assert send(api, space_id, "alice", "two\nlines 👩‍👩‍👧 ❤️").status_code == 201
    for reply in ("?", "...", "…", "!!"):  # an answer of punctuation alone is a message too
        assert send(api, space_id, "alice", reply).status_code == 201, reply


def test_sending_needs_a_live_space_auth_and_admission(api, media, space_id):
    assert api.call("POST", path(space_id, "/messages"), body={"text": "hi"}).status_code == 401
    assert send(api, "sp_missing", "alice", "hi").status_code == 404
    api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")
    banned = send(api, space_id, "bob", "let me back")
    assert banned.status_code == 403 and banned.json["error"]["code"] == "banned"
    api.call("POST", path(space_id, "/end"), as_user="host")
    ended = send(api, space_id, "alice", "hi")
    assert ended.status_code == 409 and ended.json["error"]["code"] == "invalid_state"
    assert chats(media) == []


def test_messages_are_rate_limited_per_person(api, media, space_id, monkeypatch):
    import chalicelib.services.chat as chat

    monkeypatch.setattr(chat, "MESSAGE_LIMIT", MESSAGE_LIMIT)
    frozen = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    monkeypatch.setattr(chat, "utcnow", lambda: frozen)
    codes = [send(api, space_id, "alice", f"n{i}").status_code for i in range(MESSAGE_LIMIT + 2)]
    assert codes == [201] * MESSAGE_LIMIT + [429, 429]
    limited = send(api, space_id, "alice", "again")
    assert limited.json["error"]["code"] == "rate_limited" and limited.json["error"]["details"]["retry_after_seconds"] == 9
    assert len(chats(media)) == MESSAGE_LIMIT
    assert send(api, space_id, "bob", "me too").status_code == 201
    monkeypatch.setattr(chat, "utcnow", lambda: frozen.replace(second=11))
    assert send(api, space_id, "alice", "next window").status_code == 201


def test_history_is_newest_first_and_paged_without_gaps(api, space_id):
    api.make_user("bob")
    texts = []
    for i in range(7):
        send(api, space_id, "alice", f"public {i}")
        send(api, space_id, "alice", f"private {i}", to="bob")  # carol never sees these
        texts.append(f"public {i}")
    seen, cursor = [], None
    for _ in range(10):
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        res = api.call("GET", path(space_id, "/messages" + query), as_user="carol")
        assert res.status_code == 200
        assert len(res.json["items"]) == 3 or res.json["next_cursor"] is None
        seen += [m["text"] for m in res.json["items"]]
        cursor = res.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(texts))
    bob_first = api.call("GET", path(space_id, "/messages?limit=2"), as_user="bob").json["items"]
    assert [m["text"] for m in bob_first] == ["private 6", "public 6"]


def test_a_cursor_from_another_list_or_caller_is_refused(api, space_id):
    for i in range(3):
        send(api, space_id, "alice", f"m{i}")
    cursor = api.call("GET", path(space_id, "/messages?limit=1"), as_user="alice").json["next_cursor"]
    other = api.call("GET", path(space_id, f"/messages?limit=1&cursor={cursor}"), as_user="bob")
    assert other.status_code == 400 and other.json["error"]["details"][0]["field"] == "cursor"


def test_history_is_closed_to_banned_people(api, space_id):
    send(api, space_id, "alice", "hi")
    api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")
    res = api.call("GET", path(space_id, "/messages"), as_user="bob")
    assert res.status_code == 403 and res.json["error"]["code"] == "banned"
    assert api.call("GET", path("sp_missing", "/messages"), as_user="bob").status_code == 404
    api.call("POST", path(space_id, "/end"), as_user="host")
    after = api.call("GET", path(space_id, "/messages"), as_user="alice")
    assert after.status_code == 200 and [m["text"] for m in after.json["items"]] == ["hi"]


def test_the_author_host_or_cohost_deletes_and_every_client_is_told(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    ids = [send(api, space_id, "alice", f"m{i}").json["id"] for i in range(3)]
    assert api.call("DELETE", path(space_id, f"/messages/{ids[0]}"), as_user="bob").status_code == 403
    for who, message_id in zip(("alice", "host", "carol"), ids, strict=True):
        res = api.call("DELETE", path(space_id, f"/messages/{message_id}"), as_user=who)
        assert res.status_code == 204 and not res.body
        notice = chats(media)[-1]
        assert notice["payload"] == {"deleted": message_id} and notice["to"] == []
    assert api.call("GET", path(space_id, "/messages"), as_user="bob").json["items"] == []
    again = api.call("DELETE", path(space_id, f"/messages/{ids[0]}"), as_user="alice")
    assert again.status_code == 404


def test_a_private_deletion_is_told_only_to_its_parties_and_hidden_from_others(api, media, space_id):
    api.make_user("bob")
    private = send(api, space_id, "alice", "psst", to="bob").json["id"]
    assert api.call("DELETE", path(space_id, f"/messages/{private}"), as_user="carol").status_code == 404
    assert api.call("DELETE", path(space_id, f"/messages/{private}"), as_user="bob").status_code == 403
    assert api.call("DELETE", path(space_id, f"/messages/{private}"), as_user="alice").status_code == 204
    assert chats(media)[-1] == {"space_id": space_id, "topic": TOPIC_CHAT, "payload": {"deleted": private},
                                "to": ["alice", "bob"]}


def test_a_message_the_media_server_cannot_deliver_is_not_kept(api, media, space_id):
    media.down = True
    res = send(api, space_id, "alice", "lost")
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    media.down = False
    assert api.call("GET", path(space_id, "/messages"), as_user="alice").json["items"] == []


def test_a_retried_message_with_the_same_key_is_sent_once(api, media, space_id):
    headers = {"Idempotency-Key": "msg-1"}
    first = send(api, space_id, "alice", "once", headers=headers)
    second = send(api, space_id, "alice", "once", headers=headers)
    assert first.status_code == second.status_code == 201 and first.json == second.json
    assert len(chats(media)) == 1


def test_messages_expire_with_the_chat_retention(api, space_id):
    from chalicelib.adapters.dynamodb import keys
    from tests.helpers import container

    res = send(api, space_id, "alice", "ephemeral")
    item = container().table.get(keys.space_pk(space_id), keys.message_sk(res.json["id"]))
    created = datetime.fromisoformat(res.json["created_at"].replace("Z", "+00:00"))
    days = container().settings.chat_retention_days
    assert abs(item["expires_at"] - (created.timestamp() + days * 86400)) < 5
