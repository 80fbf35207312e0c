"""Abuse limits (issue 10): each a setting, each answered 429/409 in the contract's error shape.
Concurrency tests race for real: a barrier, several threads, a tiny switch interval, services
driven directly (the Chalice test client is not thread-safe), asserting the error codes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import container, race


# -- one live Space per host -------------------------------------------------------------------
def test_a_host_has_one_live_space_at_a_time(api):
    api.make_user("solo", 1000)
    first = api.call("POST", "/v1/spaces", as_user="solo", body={"title": "one"})
    assert first.status_code == 201
    second = api.call("POST", "/v1/spaces", as_user="solo", body={"title": "two"})
    assert second.status_code == 409 and second.json["error"]["code"] == "invalid_state"
    assert second.json["error"]["details"] == {"reason": "live_limit", "limit": 1}
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = api.call("POST", "/v1/spaces", as_user="solo", body={"title": "later", "scheduled_start": start})
    assert later.status_code == 201, "scheduling is not going live"
    started = api.call("POST", f"/v1/spaces/{later.json['id']}/start", as_user="solo")
    assert started.status_code == 409 and started.json["error"]["details"]["reason"] == "live_limit"
    assert api.call("POST", f"/v1/spaces/{first.json['id']}/end", as_user="solo").status_code == 200
    assert api.call("POST", f"/v1/spaces/{later.json['id']}/start", as_user="solo").status_code == 200
    assert container().user_repo.get("solo").live_count == 1


def test_concurrent_creates_open_exactly_the_allowed_live_spaces(api, media):
    api.make_user("burst", 1000)
    spaces = container().spaces
    made, errors, other = race(8, lambda i: spaces.create("burst", title=f"burst {i}"))
    assert other == []
    assert len(made) == 1 and len(errors) == 7
    assert {(e.status, e.code) for e in errors} == {(409, "invalid_state")}
    assert all(e.details["reason"] == "live_limit" for e in errors)
    assert container().user_repo.get("burst").live_count == 1


def test_the_live_cap_is_a_setting(api, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_MAX_LIVE_SPACES_PER_HOST", "2")
    reset_container()
    api.make_user("duo", 1000)
    codes = [api.call("POST", "/v1/spaces", as_user="duo", body={"title": f"d{i}"}).status_code for i in range(3)]
    assert codes == [201, 201, 409]


@pytest.mark.parametrize("title", ["\u200b\u200b", "\u202e", "\x00\x1f"])
def test_invisible_titles_are_400(api, title):
    api.make_user("inv", 1000)
    res = api.call("POST", "/v1/spaces", as_user="inv", body={"title": title})
    assert res.status_code == 400 and res.json["error"]["details"][0]["field"] == "title", res.body


def test_titles_and_names_lose_control_and_bidi_characters(api):
    api.make_user("bidi", 1000, display_name="Bi\u202edi\u200b")
    assert api.call("GET", "/v1/users/bidi", as_user="x").json["display_name"] == "Bidi"
    res = api.call("POST", "/v1/spaces", as_user="bidi", body={"title": "Tonight\u202e\x1b on\u2066 air"})
    assert res.status_code == 201 and res.json["title"] == "Tonight on air"
    bad = api.call("PUT", "/v1/admin/users/ghost", as_user="admin", admin=True,
                   body={"handle": "ghost", "display_name": "\u200b\u200b"})
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "display_name"


@pytest.mark.parametrize("text", ["\u200b\u200b", "\u2060 \ufeff"])
def test_a_chat_message_with_nothing_visible_is_400(api, media, space_id, text):
    res = api.call("POST", f"/v1/spaces/{space_id}/messages", as_user="alice", body={"text": text})
    assert res.status_code == 400 and res.json["error"]["details"][0]["field"] == "text", res.body
