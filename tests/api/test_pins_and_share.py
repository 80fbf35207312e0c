"""Pinned content and the public share page over the API (moto)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from chalicelib.domain.pins import PIN_TEXT_MAX, PIN_URL_MAX, TOPIC_PIN
from tests.helpers import assert_refused, rfc3339_in

pytestmark = pytest.mark.usefixtures("refusals_change_nothing")


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


def pins(media) -> list[dict]:
    return [s for s in media.sent if s["topic"] == TOPIC_PIN]


# -- pins ------------------------------------------------------------------------------------
def test_the_host_pins_text_and_a_link_and_everyone_is_told(api, media, space_id):
    res = api.call("PUT", path(space_id, "/pin"), as_user="host",
                   body={"text": "  Read the  rules ", "url": "https://example.com/rules?a=1&b=2"})
    assert res.status_code == 200, res.body
    pinned = res.json["pinned"]
    assert pinned["text"] == "Read the rules" and pinned["url"] == "https://example.com/rules?a=1&b=2"
    assert pinned["pinned_by"] == "host" and pinned["pinned_at"].endswith("Z")
    assert res.json["id"] == space_id and res.json["state"] == "live"  # the whole Space
    assert api.call("GET", path(space_id), as_user="x").json["pinned"] == pinned
    [notice] = pins(media)
    assert notice["to"] == [] and notice["payload"] == {"space_id": space_id, "pinned": pinned}
    gone = api.call("DELETE", path(space_id, "/pin"), as_user="host")
    assert gone.status_code == 200 and gone.json["pinned"] is None
    assert pins(media)[-1]["payload"] == {"space_id": space_id, "pinned": None}
    log = api.call("GET", path(space_id, "/moderation-log"), as_user="host").json["items"]
    assert [(e["action"], e["actor_id"]) for e in log] == [("unpin", "host"), ("pin", "host")]


def test_a_cohost_pins_only_text_or_only_a_link_and_others_cannot(api, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    only_url = api.call("PUT", path(space_id, "/pin"), as_user="carol", body={"url": "http://example.org"})
    assert only_url.status_code == 200 and only_url.json["pinned"]["text"] is None
    only_text = api.call("PUT", path(space_id, "/pin"), as_user="carol", body={"text": "hi"})
    assert only_text.json["pinned"] == {**only_text.json["pinned"], "text": "hi", "url": None}
    assert_refused(api.call("PUT", path(space_id, "/pin"), as_user="alice", body={"text": "mine"}), 403)
    assert_refused(api.call("DELETE", path(space_id, "/pin"), as_user="alice"), 403)
    assert api.call("PUT", path(space_id, "/pin"), body={"text": "x"}).status_code == 401
    assert api.call("PUT", path("sp_missing", "/pin"), as_user="host", body={"text": "x"}).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "text"), ({"text": ""}, "text"), ({"text": "x" * (PIN_TEXT_MAX + 1)}, "text"), ({"text": "a\x00"}, "text"),
    ({"url": "javascript:alert(1)"}, "url"), ({"url": "ftp://example.com/x"}, "url"), ({"url": "example.com"}, "url"),
    ({"url": "https://"}, "url"), ({"url": "https://exa mple.com"}, "url"), ({"url": "https://a\nb.com"}, "url"),
    ({"url": "https://example.com/" + "a" * PIN_URL_MAX}, "url"), ({"url": "https://user:pw@example.com"}, "url"),
    ({"url": "https://example.com:99999"}, "url"), ({"text": "ok", "extra": 1}, "extra"),
])
def test_bad_pins_get_400_naming_the_field(api, media, space_id, body, field):
    res = api.call("PUT", path(space_id, "/pin"), as_user="host", body=body)
    assert res.status_code == 400 and field in [d["field"] for d in res.json["error"]["details"]], res.json
    assert pins(media) == []


def test_a_scheduled_space_is_pinned_quietly_and_an_ended_one_not_at_all(api, media):
    api.make_user("host", 1000)
    scheduled = api.call("POST", "/v1/spaces", as_user="host",
                         body={"title": "Later", "scheduled_start": rfc3339_in(60)}).json["id"]
    res = api.call("PUT", path(scheduled, "/pin"), as_user="host", body={"text": "agenda"})
    assert res.status_code == 200 and res.json["pinned"]["text"] == "agenda" and pins(media) == []
    assert api.call("POST", path(scheduled, "/start"), as_user="host").json["pinned"]["text"] == "agenda"
    api.call("POST", path(scheduled, "/end"), as_user="host")
    ended = api.call("PUT", path(scheduled, "/pin"), as_user="host", body={"text": "late"})
    assert_refused(ended, 409, "invalid_state")


# -- the share page --------------------------------------------------------------------------
class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.scripts = 0
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        if tag == "script":
            self.scripts += 1
        if tag == "a":
            self.links.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


def share(api, space_id: str):
    res = api.call("GET", f"/s/{space_id}")
    page = Tags()
    page.feed(res.body.decode() if isinstance(res.body, bytes) else res.body)
    return res, page


def test_a_live_space_shares_title_host_listeners_and_preview_tags_without_auth(api):
    api.make_user("host", 1000, display_name="Hosty McHost", handle="hosty")
    space_id = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Morning show",
                                                                    "topics": ["news"]}).json["id"]
    res, page = share(api, space_id)
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("text/html")
    assert re.fullmatch(r"public, max-age=\d{1,3}", res.headers["Cache-Control"])
    assert page.meta["og:title"] == page.meta["twitter:title"] == "Morning show"
    assert page.meta["twitter:card"] == "summary" and page.meta["og:url"].endswith(f"/s/{space_id}")
    assert "Live now · 0 listening" in page.meta["og:description"] and "Hosty McHost (@hosty)" in page.meta["og:description"]
    assert page.meta["al:ios:url"] == f"airwaves://spaces/{space_id}"
    assert f"airwaves://spaces/{space_id}" in page.links
    text = "".join(page.text)
    assert "Morning show" in text and "Hosted by Hosty McHost" in text and "news" in text


def test_a_scheduled_space_shows_its_start_time(api):
    api.make_user("host", 1000)
    space_id = api.call("POST", "/v1/spaces", as_user="host",
                        body={"title": "Later", "scheduled_start": rfc3339_in(90)}).json["id"]
    res, page = share(api, space_id)
    assert res.status_code == 200 and "Starts " in page.meta["og:description"] and "UTC" in "".join(page.text)
    assert '<time datetime="' in res.body.decode()


def test_a_title_with_markup_shows_as_text_everywhere(api):
    api.make_user("host", 1000, display_name='<img src=x onerror="alert(1)">')
    title = '<script>alert("x")</script> & "quotes"'
    space_id = api.call("POST", "/v1/spaces", as_user="host", body={"title": title}).json["id"]
    res, page = share(api, space_id)
    body = res.body.decode()
    assert page.scripts == 0 and "<script>" not in body and "<img" not in body
    assert "&lt;script&gt;" in body and "&quot;quotes&quot;" in body
    assert page.meta["og:title"] == title  # the parser unescapes: the exact text, never markup
    assert title in "".join(page.text)


def test_unknown_and_canceled_spaces_get_a_plain_404_page(api):
    api.make_user("host", 1000)
    space_id = api.call("POST", "/v1/spaces", as_user="host",
                        body={"title": "Soon", "scheduled_start": rfc3339_in(60)}).json["id"]
    api.call("DELETE", path(space_id), as_user="host")
    for sid in (space_id, "sp_unknown", "not%20an%20id", "<script>"):
        res, page = share(api, sid)
        assert res.status_code == 404 and res.headers["Content-Type"].startswith("text/html")
        assert "og:title" not in page.meta and "Soon" not in res.body.decode()


def test_the_share_page_is_in_the_openapi_document(api):
    doc = api.call("GET", "/v1/openapi.json").json
    assert doc["paths"]["/s/{space_id}"]["get"]["security"] == []
    assert "text/html" in doc["paths"]["/s/{space_id}"]["get"]["responses"]["404"]["content"]
    for p in ("/v1/spaces/{space_id}/messages", "/v1/spaces/{space_id}/pin", "/v1/spaces/{space_id}/moderation-log",
              "/v1/reports", "/v1/admin/reports", "/v1/me/blocks", "/v1/me/blocks/{user_id}",
              "/v1/spaces/{space_id}/chat-mutes/{user_id}", "/v1/spaces/{space_id}/messages/{message_id}"):
        assert p in doc["paths"], p
    assert "pinned" in doc["components"]["schemas"]["SpaceOut"]["properties"]
