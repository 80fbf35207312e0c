"""Clips (issue 13): asked for while live, made by the media worker (``pending`` -> its report
through the internal route -> ``available``), answered with a presigned URL fetched from moto."""
from __future__ import annotations

import requests

from tests.api.test_replay import create, end, make_ticketed
from tests.fixtures_media import object_keys
from tests.helpers import container


def clip(api, sid, user="listener", key=None):
    headers = {"Idempotency-Key": key} if key else None
    return api.call("POST", f"/v1/spaces/{sid}/clips", as_user=user, headers=headers)


def test_a_clip_is_pending_until_the_worker_reports_it(api, worker):
    sid = create(api)["id"]
    res = clip(api, sid)
    assert res.status_code == 201, res.body
    made = res.json
    assert made["id"].startswith("cl_") and made["space_id"] == sid and made["created_by"] == "listener"
    assert (made["state"], made["duration_seconds"], made["url"]) == ("pending", 30.0, None)
    assert worker.state(sid)["pending_clips"] == [{"clip_id": made["id"], "duration_seconds": 30.0}]
    assert worker.finish_clip(sid, made["id"], seconds=30.0).status_code == 204
    assert worker.state(sid)["pending_clips"] == []
    got = api.call("GET", f"/v1/clips/{made['id']}", as_user="someone").json
    assert got["state"] == "available" and got["duration_seconds"] == 30.0
    assert requests.get(got["url"], timeout=5).content == b"OggS clip"
    # a repeated report is harmless and cannot change the outcome
    res = worker.call("PUT", f"/internal/media/spaces/{sid}/clips/{made['id']}",
                      {"state": "failed", "key": None, "duration_seconds": 0})
    assert res.status_code == 204
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="someone").json["state"] == "available"


def test_clips_list_newest_first_and_failed_clips_have_no_url(api, worker):
    sid = create(api)["id"]
    first, second = clip(api, sid, "a").json, clip(api, sid, "b").json
    res = worker.call("PUT", f"/internal/media/spaces/{sid}/clips/{first['id']}",
                      {"state": "failed", "key": None, "duration_seconds": 0})
    assert res.status_code == 204
    page = api.call("GET", f"/v1/spaces/{sid}/clips?limit=1", as_user="x").json
    assert [c["id"] for c in page["items"]] == [second["id"]] and page["next_cursor"]
    rest = api.call("GET", f"/v1/spaces/{sid}/clips?limit=1&cursor={page['next_cursor']}", as_user="x").json
    assert [c["id"] for c in rest["items"]] == [first["id"]]
    assert rest["items"][0]["state"] == "failed" and rest["items"][0]["url"] is None


def test_clips_only_while_live_and_only_when_the_host_allows(api, worker):
    sid = create(api, clips_enabled=False)["id"]
    res = clip(api, sid)
    assert res.status_code == 403 and res.json["error"]["code"] == "forbidden"
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"clips_enabled": True})
    assert clip(api, sid).status_code == 201
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"clips_enabled": False})
    assert worker.state(sid)["pending_clips"] == []  # clips off: the worker is asked for none
    end(api, sid)
    res = clip(api, sid)
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    assert clip(api, "sp_missing").status_code == 404
    assert api.call("GET", "/v1/clips/cl_missing", as_user="x").status_code == 404


def test_idempotency_key_gives_the_same_clip(api, worker):
    sid = create(api)["id"]
    first = clip(api, sid, key="k1")
    again = clip(api, sid, key="k1")
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"] and again.headers.get("Idempotent-Replayed") == "true"
    assert len(worker.state(sid)["pending_clips"]) == 1


def test_clips_are_rate_limited_per_person(api, worker):
    sid = create(api)["id"]
    codes = [clip(api, sid, "eager").status_code for _ in range(7)]
    assert codes == [201] * 6 + [429]
    assert clip(api, sid, "calm").status_code == 201


def test_ticketed_clips_need_a_ticket_except_on_stage(api, worker):
    from tests.fakes import Gate

    sid = create(api)["id"]
    api.call("PUT", f"/v1/spaces/{sid}/speakers/sam", as_user="host")
    made = clip(api, sid, "early").json  # before the Space became ticketed
    make_ticketed(sid)
    c = container()
    c.joins.tickets = Gate({(sid, "payer")})
    c.clips.access.tickets = Gate({(sid, "payer")})
    assert clip(api, sid, "payer").status_code == 201 and clip(api, sid, "sam").status_code == 201
    refused = clip(api, sid, "freeloader")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "ticket_required"
    got = api.call("GET", f"/v1/clips/{made['id']}", as_user="freeloader")
    assert got.status_code == 403 and got.json["error"]["code"] == "ticket_required"
    assert api.call("GET", f"/v1/spaces/{sid}/clips", as_user="freeloader").status_code == 403
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="payer").status_code == 200


def test_worker_clip_reports_are_checked(api, worker):
    sid = create(api)["id"]
    other = create(api, "other")["id"]
    made = clip(api, sid).json
    path = f"/internal/media/spaces/{sid}/clips/{made['id']}"
    assert worker.call("PUT", f"/internal/media/spaces/{other}/clips/{made['id']}",
                       {"state": "available", "key": f"spaces/{other}/clips/x.ogg", "duration_seconds": 30}
                       ).status_code == 404
    for body in ({"state": "pending", "duration_seconds": 1}, {"state": "available", "duration_seconds": 1},
                 {"state": "available", "key": f"spaces/{other}/clips/x.ogg", "duration_seconds": 1}):
        assert worker.call("PUT", path, body).status_code == 400, body
    assert worker.call("PUT", path, {"state": "available", "key": "k", "duration_seconds": 1},
                       headers={}).status_code == 401


def test_deleting_the_replay_deletes_the_clips(api, worker):
    sid = create(api, recording=True)["id"]
    made = clip(api, sid).json
    worker.finish_clip(sid, made["id"])
    end(api, sid)
    worker.record(sid, 2)
    assert f"spaces/{sid}/clips/{made['id']}.ogg" in object_keys(f"spaces/{sid}/")
    assert api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host").status_code == 204
    assert object_keys(f"spaces/{sid}/") == []
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="x").status_code == 404
    assert api.call("GET", f"/v1/spaces/{sid}/clips", as_user="x").json["items"] == []


def test_a_clip_no_worker_made_in_time_reads_failed(api, worker, monkeypatch, capsys):
    from chalicelib.container import reset_container
    from tests.api.test_replay import worker_failures

    monkeypatch.setenv("AIRWAVES_CLIP_TIMEOUT_SECONDS", "0")
    reset_container()
    sid = create(api)["id"]
    made = clip(api, sid).json
    worker_failures(capsys)
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="x").json["state"] == "failed"
    # the first read that sees the timeout reports it; later reads (one or a page) do not again
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="y").json["state"] == "failed"
    assert api.call("GET", f"/v1/spaces/{sid}/clips", as_user="x").json["items"][0]["state"] == "failed"
    assert worker_failures(capsys) == [{"clip_id": made["id"], "event": "media_worker_failure",
                                        "kind": "clip_timed_out", "space_id": sid}]
    assert worker.state(sid)["pending_clips"] == []
    # a late report still lands: the file exists after all
    assert worker.finish_clip(sid, made["id"]).status_code == 204
    assert api.call("GET", f"/v1/clips/{made['id']}", as_user="x").json["state"] == "available"


def test_a_clip_the_worker_failed_logs_one_worker_failure(api, worker, capsys):
    from tests.api.test_replay import worker_failures

    sid = create(api)["id"]
    made, good = clip(api, sid).json, clip(api, sid, "b").json
    worker.finish_clip(sid, good["id"])
    assert worker_failures(capsys) == []
    path = f"/internal/media/spaces/{sid}/clips/{made['id']}"
    for _ in range(2):  # a repeated report is not a second failure
        assert worker.call("PUT", path, {"state": "failed", "key": None, "duration_seconds": 0}).status_code == 204
    assert worker_failures(capsys) == [{"clip_id": made["id"], "event": "media_worker_failure",
                                        "kind": "clip_failed", "space_id": sid}]
