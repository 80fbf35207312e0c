"""Spaces over the API: create, read, edit, the state machine, lists and idempotent replays."""
from __future__ import annotations

import pytest

from tests.helpers import hosts, rfc3339_in


@pytest.fixture
def host(api):
    api.make_user("host", 1000)
    return "host"


def create(api, as_user="host", **body):
    body.setdefault("title", "Talk")
    return api.call("POST", "/v1/spaces", as_user=as_user, body=body)


def test_create_now_is_live_and_returns_the_whole_space(api, host):
    res = create(api, title="  Morning   show ", topics=["Tech", "news"])
    assert res.status_code == 201
    space = res.json
    assert space["state"] == "live" and space["host_id"] == "host"
    assert space["title"] == "Morning show" and space["topics"] == ["tech", "news"]
    assert space["started_at"].endswith("Z") and space["scheduled_start"] is None
    assert space["cohost_ids"] == [] and space["speaker_ids"] == [] and space["ticket"] is None
    assert api.call("GET", f"/v1/spaces/{space['id']}", as_user="someone").json["title"] == "Morning show"


def test_create_scheduled(api, host):
    res = create(api, scheduled_start=rfc3339_in(60))
    assert res.status_code == 201 and res.json["state"] == "scheduled" and res.json["started_at"] is None


def test_not_eligible_hosts_are_refused_with_reasons(api):
    api.make_user("small", 10)
    res = create(api, as_user="small")
    assert res.status_code == 403 and res.json["error"]["code"] == "not_eligible"
    assert res.json["error"]["details"]["reasons"] == ["not_enough_followers"]
    assert create(api, as_user="ghost").json["error"]["code"] == "not_eligible"


@pytest.mark.parametrize("body, field", [
    ({"title": ""}, "title"),
    ({"title": "x" * 71}, "title"),
    ({"title": 5}, "title"),
    ({"title": "ok", "topics": ["a", "b", "c", "d"]}, "topics"),
    ({"title": "ok", "topics": "tech"}, "topics"),
    ({"title": "ok", "scheduled_start": "tomorrow"}, "scheduled_start"),
    ({"title": "ok", "scheduled_start": "2020-01-01T00:00:00Z"}, "scheduled_start"),
    ({"title": "ok", "scheduled_start": "2099-01-01T00:00:00"}, "scheduled_start"),
    ({"title": "ok", "scheduled_start": rfc3339_in(60 * 24 * 31)}, "scheduled_start"),
    ({"title": "ok", "ticket": {"price_cents": 500, "currency": "usd", "quantity": 10}}, "ticket"),
    ({"title": "ok", "ticket": {"price_cents": 5, "currency": "usd", "quantity": 10}, "scheduled_start": rfc3339_in(60)},
     "ticket.price_cents"),
    ({"title": "ok", "unknown": True}, "unknown"),
    ({}, "title"),
])
def test_create_validation_names_the_bad_field(api, host, body, field):
    res = api.call("POST", "/v1/spaces", as_user="host", body=body)
    assert res.status_code == 400, res.body
    assert res.json["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in res.json["error"]["details"]], res.json


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe", b'{"title": "x"', b"42", b'"str"'])
def test_malformed_bodies_are_400_never_500(api, host, raw):
    res = api.call("POST", "/v1/spaces", as_user="host", raw=raw)
    assert res.status_code == 400 and res.json["error"]["code"] == "validation_error"


def test_at_most_ten_upcoming_scheduled_spaces_per_host(api, host):
    ids = [create(api, scheduled_start=rfc3339_in(60 + i)).json["id"] for i in range(10)]
    over = create(api, scheduled_start=rfc3339_in(90))
    assert over.status_code == 409 and over.json["error"]["code"] == "invalid_state"
    api.call("DELETE", f"/v1/spaces/{ids[0]}", as_user="host")
    assert create(api, scheduled_start=rfc3339_in(90)).status_code == 201
    api.call("POST", f"/v1/spaces/{ids[1]}/start", as_user="host")
    assert create(api, scheduled_start=rfc3339_in(91)).status_code == 201
    assert create(api, scheduled_start=rfc3339_in(92)).status_code == 409


def test_patch_edits_a_scheduled_space_only_by_its_host(api, host):
    sid = create(api, scheduled_start=rfc3339_in(60), topics=["a"]).json["id"]
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host",
                   body={"title": "New", "topics": ["b"], "scheduled_start": rfc3339_in(120)})
    assert res.status_code == 200 and res.json["title"] == "New" and res.json["topics"] == ["b"]
    assert api.call("GET", "/v1/spaces?state=scheduled&topic=b", as_user="x").json["items"][0]["id"] == sid
    assert api.call("GET", "/v1/spaces?state=scheduled&topic=a", as_user="x").json["items"] == []
    assert api.call("PATCH", f"/v1/spaces/{sid}", as_user="intruder", body={"title": "x"}).status_code == 403
    empty = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={})
    assert empty.status_code == 400
    api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    late = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"title": "x"})
    assert late.status_code == 409 and late.json["error"]["code"] == "invalid_state"


def test_lifecycle_scheduled_live_ended(api, host):
    sid = create(api, scheduled_start=rfc3339_in(60)).json["id"]
    assert api.call("POST", f"/v1/spaces/{sid}/end", as_user="host").json["error"]["code"] == "invalid_state"
    assert api.call("POST", f"/v1/spaces/{sid}/start", as_user="other").status_code == 403
    started = api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    assert started.status_code == 200 and started.json["state"] == "live" and started.json["started_at"]
    again = api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    assert again.status_code == 409 and again.json["error"]["details"]["state"] == "live"
    assert api.call("DELETE", f"/v1/spaces/{sid}", as_user="host").status_code == 409
    assert api.call("POST", f"/v1/spaces/{sid}/end", as_user="listener").status_code == 403
    ended = api.call("POST", f"/v1/spaces/{sid}/end", as_user="host")
    assert ended.status_code == 200 and ended.json["state"] == "ended" and ended.json["ended_at"]
    assert api.call("POST", f"/v1/spaces/{sid}/end", as_user="host").status_code == 409
    assert api.call("POST", f"/v1/spaces/{sid}/start", as_user="host").status_code == 409


def test_cancel_only_while_scheduled(api, host):
    sid = create(api, scheduled_start=rfc3339_in(60)).json["id"]
    assert api.call("DELETE", f"/v1/spaces/{sid}", as_user="other").status_code == 403
    res = api.call("DELETE", f"/v1/spaces/{sid}", as_user="host")
    assert res.status_code == 200 and res.json["state"] == "canceled"
    assert api.call("POST", f"/v1/spaces/{sid}/start", as_user="host").status_code == 409
    assert api.call("GET", "/v1/spaces?state=scheduled", as_user="x").json["items"] == []


def test_unknown_spaces_and_bad_ids(api, host):
    for method, path in [("GET", "/v1/spaces/sp_missing"), ("POST", "/v1/spaces/sp_missing/start"),
                         ("POST", "/v1/spaces/sp_missing/end"), ("DELETE", "/v1/spaces/sp_missing")]:
        res = api.call(method, path, as_user="host")
        assert res.status_code == 404 and res.json["error"]["code"] == "not_found", path
    assert api.call("GET", "/v1/spaces/" + "x" * 200, as_user="host").status_code == 400


def test_lists_by_state_and_topic_with_cursors(api, host):
    live = [create(api, as_user=h, title=f"live {i}", topics=["tech"] if i % 2 else ["music"]).json["id"]
            for i, h in enumerate(hosts(api, "lister", 5))]
    sched = [create(api, title=f"s {i}", scheduled_start=rfc3339_in(300 - i * 10)).json["id"] for i in range(3)]
    ids, cursor = [], None
    while True:
        page = api.call("GET", "/v1/spaces?state=live&limit=2" + (f"&cursor={cursor}" if cursor else ""),
                        as_user="x").json
        ids += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == list(reversed(live)), "live Spaces list newest first"
    scheduled = api.call("GET", "/v1/spaces?state=scheduled", as_user="x").json["items"]
    assert [s["id"] for s in scheduled] == list(reversed(sched)), "scheduled Spaces list soonest first"
    tech = api.call("GET", "/v1/spaces?state=live&topic=TECH", as_user="x").json["items"]
    assert sorted(s["id"] for s in tech) == sorted(live[1::2])
    bad = api.call("GET", "/v1/spaces?state=ended", as_user="x")
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "state"
    tampered = api.call("GET", "/v1/spaces?state=live&cursor=eyJQSyI6IngifQ.AAAA", as_user="x")
    assert tampered.status_code == 400
    page = api.call("GET", "/v1/spaces?state=live&limit=1", as_user="x").json
    reuse = api.call("GET", f"/v1/spaces?state=scheduled&cursor={page['next_cursor']}", as_user="x")
    assert reuse.status_code == 400, "a cursor from one list is refused by another"


def test_following_lists_live_spaces_of_people_i_follow(api, host, runner):
    api.make_user("other", 1000)
    api.make_user("fan", 0)
    api.call("PUT", "/v1/me/following/host", as_user="fan")
    mine = create(api).json["id"]
    create(api, as_user="other")
    runner.drain()  # going live fans out through the queue, off the request path
    feed = api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan").json
    assert [s["id"] for s in feed["items"]] == [mine]
    api.call("POST", f"/v1/spaces/{mine}/end", as_user="host")
    assert api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan").json["items"] == []
    bad = api.call("GET", "/v1/spaces?state=scheduled&following=true", as_user="fan")
    assert bad.status_code == 400


def test_idempotency_key_replays_the_first_result(api, host):
    key = {"Idempotency-Key": "create-1"}
    first = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Once"}, headers=key)
    second = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Once"}, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(api.call("GET", "/v1/spaces?state=live", as_user="x").json["items"]) == 1
    other_body = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Different"}, headers=key)
    assert other_body.status_code == 409 and other_body.json["error"]["code"] == "already_exists"
    # Keys belong to their caller: another user's same key is a fresh request.
    api.make_user("host2", 1000)
    assert api.call("POST", "/v1/spaces", as_user="host2", body={"title": "Once"}, headers=key).json["id"] != first.json["id"]


def test_failed_requests_release_their_idempotency_key(api, host):
    key = {"Idempotency-Key": "retry-after-fix"}
    bad = api.call("POST", "/v1/spaces", as_user="host", body={"title": ""}, headers=key)
    assert bad.status_code == 400
    sid = create(api, scheduled_start=rfc3339_in(60)).json["id"]
    start_key = {"Idempotency-Key": "start-1"}
    one = api.call("POST", f"/v1/spaces/{sid}/start", as_user="host", headers=start_key)
    two = api.call("POST", f"/v1/spaces/{sid}/start", as_user="host", headers=start_key)
    assert one.status_code == two.status_code == 200 and one.json == two.json


def test_health_openapi_and_docs_need_no_token(api):
    health = api.call("GET", "/v1/health")
    assert health.status_code == 200 and health.json["dependencies"]["dynamodb"]["status"] == "ok"
    spec = api.call("GET", "/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    create_op = spec["paths"]["/v1/spaces"]["post"]
    assert create_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("SpaceCreateIn")
    assert "SpaceOut" in spec["components"]["schemas"]
    assert {"201", "400", "401", "403"} <= set(create_op["responses"])
    docs = api.call("GET", "/v1/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.body.decode()


def test_openapi_covers_every_route_the_app_serves(api):
    from app import app

    spec = api.call("GET", "/v1/openapi.json").json
    # OPTIONS is the CORS preflight every path answers (api/cors.py), not an operation
    served = {(m.lower(), path) for path, methods in app.routes.items() for m in methods if m != "OPTIONS"}
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    internal = {(m, p) for m, p in served if p.startswith("/internal/")}  # the media worker's, kept out
    assert internal and served - internal == documented


def test_wrong_method_and_content_type_use_the_error_shape(api, host):
    res = api.call("PUT", "/v1/spaces", as_user="host", body={})
    assert res.status_code == 405 and res.json["error"]["code"] == "method_not_allowed"
    res = api.call("POST", "/v1/spaces", as_user="host", raw=b"title=x", headers={"Content-Type": "text/plain"})
    assert res.status_code == 415 and res.json["error"]["code"] == "unsupported_media_type"


# -- the spoken language (issue 14): BCP 47, canonical, the stage's default when none is named -----
def test_language_defaults_to_en_and_is_stored_canonical(api, host):
    assert create(api).json["language"] == "en"
    sid = create(api, scheduled_start=rfc3339_in(60), language="pt_br").json["id"]
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["language"] == "pt-BR"
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"language": "zh-hant-tw"})
    assert res.status_code == 200 and res.json["language"] == "zh-Hant-TW"
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["language"] == "zh-Hant-TW"


def test_language_changes_while_live_but_not_once_ended(api, host):
    sid = create(api).json["id"]
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"language": "fr-CA"})
    assert res.status_code == 200 and res.json["language"] == "fr-CA" and res.json["state"] == "live"
    assert api.call("PATCH", f"/v1/spaces/{sid}", as_user="x", body={"language": "en"}).status_code == 403
    api.call("POST", f"/v1/spaces/{sid}/end", as_user="host")
    late = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"language": "en"})
    assert late.status_code == 409 and late.json["error"]["code"] == "invalid_state"


@pytest.mark.parametrize("tag", ["english", "xx", "en-", "en--US", "", " ", "é", "12", "e" * 36, 5])
def test_a_malformed_language_is_a_400_naming_the_field(api, host, tag):
    res = create(api, language=tag)
    assert res.status_code == 400, res.body
    assert res.json["error"]["code"] == "validation_error"
    assert [d["field"] for d in res.json["error"]["details"]] == ["language"], res.json
    sid = create(api, scheduled_start=rfc3339_in(60)).json["id"]
    patched = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"language": tag})
    assert patched.status_code == 400 and patched.json["error"]["details"][0]["field"] == "language"
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["language"] == "en"


def test_the_stage_setting_is_the_default_language(api, host, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_MEDIA_LANGUAGE", "de")
    reset_container()
    assert create(api).json["language"] == "de"
    assert create(api, scheduled_start=rfc3339_in(60), language="en-GB").json["language"] == "en-GB"
