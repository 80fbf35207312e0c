"""Recording options, dispatching the media worker, the worker's internal routes and replays
(issue 13, ``notes/MEDIA_CONTRACT.md``), on moto's DynamoDB and S3. Presigned URLs are fetched
from moto, so a URL that points at the wrong key or bucket fails here."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from chalicelib.adapters.dynamodb import keys
from chalicelib.domain.clock import parse_rfc3339
from tests.fixtures_media import object_keys
from tests.helpers import container


def create(api, user="host", **body):
    api.make_user(user, 1000)
    res = api.call("POST", "/v1/spaces", as_user=user, body={"title": "Recorded", **body})
    assert res.status_code == 201, res.body
    return res.json


def end(api, sid, user="host"):
    res = api.call("POST", f"/v1/spaces/{sid}/end", as_user=user)
    assert res.status_code == 200, res.body
    return res.json


def replay(api, sid, user="host"):
    return api.call("GET", f"/v1/spaces/{sid}/replay", as_user=user)


def fetch(url: str) -> bytes:
    res = requests.get(url, timeout=5)
    assert res.status_code == 200, (url, res.status_code, res.text[:200])
    return res.content


def segment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# -- options and dispatch --------------------------------------------------------------------------
def test_options_default_and_are_accepted_at_create(api, media):
    space = create(api)
    assert (space["recording"], space["captions"], space["clips_enabled"], space["replay"]) == (False, True, True, None)
    other = create(api, "other", recording=True, captions=False, clips_enabled=False)
    assert (other["recording"], other["captions"], other["clips_enabled"]) == (True, False, False)
    got = api.call("GET", f"/v1/spaces/{other['id']}", as_user="x").json
    assert (got["recording"], got["captions"], got["clips_enabled"]) == (True, False, False)


def test_going_live_dispatches_the_media_worker_once(api, media):
    space = create(api, recording=True)
    assert media.dispatches == {(space["id"], "airwaves-media"): {"space_id": space["id"]}}
    # turning an option on again while live asks again, and the adapter keeps it at one dispatch
    assert api.call("PATCH", f"/v1/spaces/{space['id']}", as_user="host", body={"recording": False}).status_code == 200
    assert api.call("PATCH", f"/v1/spaces/{space['id']}", as_user="host", body={"recording": True}).status_code == 200
    assert len(media.calls_named("dispatch_agent")) == 2 and len(media.dispatches) == 1


def test_a_space_that_needs_no_worker_gets_one_when_recording_is_turned_on_while_live(api, media):
    space = create(api, recording=False, captions=False, clips_enabled=False)
    assert media.dispatches == {}
    res = api.call("PATCH", f"/v1/spaces/{space['id']}", as_user="host", body={"recording": True})
    assert res.status_code == 200 and res.json["recording"] is True
    assert (space["id"], "airwaves-media") in media.dispatches
    assert container().space_repo.get(space["id"]).recording is True


def test_a_scheduled_space_is_dispatched_when_it_starts(api, media):
    from tests.helpers import rfc3339_in

    space = create(api, scheduled_start=rfc3339_in(60), recording=True)
    assert media.dispatches == {}
    api.call("POST", f"/v1/spaces/{space['id']}/start", as_user="host")
    assert (space["id"], "airwaves-media") in media.dispatches


def test_a_failed_dispatch_does_not_stop_the_space_going_live(api, media, monkeypatch):
    from chalicelib.domain.errors import UpstreamUnavailable

    def down(*args, **kwargs):
        raise UpstreamUnavailable("no agents")

    monkeypatch.setattr(media, "dispatch_agent", down)
    assert create(api, recording=True)["state"] == "live"


def test_only_media_options_change_while_live_and_nothing_after_the_end(api, media):
    sid = create(api)["id"]
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"title": "New"})
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    assert api.call("PATCH", f"/v1/spaces/{sid}", as_user="guest", body={"recording": True}).status_code == 403
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"captions": False, "clips_enabled": False})
    assert res.status_code == 200 and (res.json["captions"], res.json["clips_enabled"]) == (False, False)
    assert api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={}).status_code == 400
    end(api, sid)
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"recording": True})
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"


# -- the worker's internal routes ------------------------------------------------------------------
def test_internal_routes_need_the_worker_secret_and_stay_out_of_openapi(api, worker):
    sid = create(api)["id"]
    path = f"/internal/media/spaces/{sid}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {api.token('host')}"}):
        res = worker.call("GET", path, headers=headers)
        assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated", headers
    res = worker.call("PUT", f"{path}/recording", {"state": "recording", "duration_seconds": 1}, headers={})
    assert res.status_code == 401
    spec = api.call("GET", "/v1/openapi.json").json
    assert not [p for p in spec["paths"] if p.startswith("/internal")]
    assert "WorkerSpaceOut" not in spec["components"]["schemas"]


def test_no_secret_configured_accepts_nobody(api, worker, monkeypatch):
    sid = create(api)["id"]
    monkeypatch.setenv("AIRWAVES_MEDIA_WORKER_SECRET", "")
    assert worker.call("GET", f"/internal/media/spaces/{sid}", headers={"Authorization": "Bearer "}).status_code == 401
    assert worker.call("GET", f"/internal/media/spaces/{sid}").status_code == 401


def test_the_worker_reads_options_stage_and_follows_changes(api, worker):
    space = create(api, recording=True, captions=False)
    sid = space["id"]
    api.call("PUT", f"/v1/spaces/{sid}/speakers/sam", as_user="host")
    state = worker.state(sid)
    assert state["space_id"] == sid and state["state"] == "live" and state["started_at"]
    # to the millisecond (the worker's timeline, the trim's), the public one to the second
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", state["started_at"]), state["started_at"]
    assert state["started_at"][:19] == space["started_at"][:19]
    assert (state["recording"], state["captions"], state["clips_enabled"]) == (True, False, True)
    assert state["language"] == "en" and state["pending_clips"] == []
    assert state["stage_user_ids"] == ["host", "sam"]
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"recording": False})
    assert worker.state(sid)["recording"] is False
    end(api, sid)
    assert worker.state(sid)["state"] == "ended"
    assert worker.call("GET", "/internal/media/spaces/sp_nope").status_code == 404


def test_reports_are_checked(api, worker):
    sid = create(api, recording=True)["id"]
    path = f"/internal/media/spaces/{sid}/recording"
    bad = [{"state": "deleted", "duration_seconds": 1}, {"state": "recording", "duration_seconds": -1},
           {"state": "available", "duration_seconds": 1, "hls_key": "spaces/other/hls/playlist.m3u8"},
           {"state": "available", "duration_seconds": 1, "ogg_key": f"spaces/{sid}/../x/recording.ogg"}]
    for body in bad:
        assert worker.call("PUT", path, body).status_code == 400, body


# -- replays ---------------------------------------------------------------------------------------
def test_a_recorded_space_replays_and_downloads_from_presigned_urls(api, worker):
    sid = create(api, recording=True)["id"]
    worker.write_recording(sid, 2, ended=False)
    worker.report(sid, "recording", 4.0)
    live = api.call("GET", f"/v1/spaces/{sid}", as_user="x").json
    assert live["replay"] == {"state": "processing", "duration_seconds": 4.0, "expires_at": None}
    processing = replay(api, sid, "listener").json
    assert processing["state"] == "processing" and processing["playback_url"] is None
    ended = end(api, sid)
    worker.record(sid, 3)
    body = replay(api, sid, "listener").json
    expected_expiry = parse_rfc3339(ended["ended_at"]) + timedelta(days=30)
    assert body["state"] == "available" and body["duration_seconds"] == 6.0
    assert abs((parse_rfc3339(body["expires_at"]) - expected_expiry).total_seconds()) <= 1
    assert body["start_offset_seconds"] == 0 and body["transcript_url"] is None
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["replay"]["state"] == "available"
    playlist = fetch(body["playback_url"]).decode()
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in playlist and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
    uris = segment_lines(playlist)
    assert len(uris) == 3 and all(u.startswith("http") for u in uris)
    assert [fetch(u) for u in uris] == [b"TS 000000.ts", b"TS 000001.ts", b"TS 000002.ts"]
    assert fetch(body["download_url"]) == b"OggS fake opus"
    assert "attachment" in requests.utils.unquote(body["download_url"])


def test_available_is_final_unless_longer(api, worker):
    sid = create(api, recording=True)["id"]
    end(api, sid)
    worker.record(sid, 3)
    worker.report(sid, "failed", 1.0)
    worker.report(sid, "processing", 6.0)
    assert replay(api, sid).json["state"] == "available"
    worker.report(sid, "available", 8.0)
    assert replay(api, sid).json["duration_seconds"] == 8.0


def test_a_gap_in_the_recording_survives_the_rewrite(api, worker):
    sid = create(api, recording=True)["id"]
    end(api, sid)
    worker.write_recording(sid, 4, ended=True, discontinuity_before=2)
    worker.report(sid, "available", 8.0)
    playlist = fetch(replay(api, sid).json["playback_url"]).decode()
    lines = playlist.splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    assert lines.index("#EXT-X-DISCONTINUITY") < lines.index(segment_lines(playlist)[2])


def test_the_host_trims_the_start(api, worker):
    sid = create(api, recording=True)["id"]
    api.call("PUT", f"/v1/spaces/{sid}/speakers/sam", as_user="host")
    end(api, sid)
    worker.record(sid, 3)
    for user in ("sam", "listener"):
        res = api.call("PATCH", f"/v1/spaces/{sid}/replay", as_user=user, body={"start_offset_seconds": 3})
        assert res.status_code == 403
    for bad, status in ((-1, 400), ("x", 400), (6, 409), (10, 409)):  # past the 6 s replay: its state, not the shape
        res = api.call("PATCH", f"/v1/spaces/{sid}/replay", as_user="host", body={"start_offset_seconds": bad})
        assert res.status_code == status, bad
    res = api.call("PATCH", f"/v1/spaces/{sid}/replay", as_user="host", body={"start_offset_seconds": 3})
    assert res.status_code == 200 and res.json["start_offset_seconds"] == 3
    playlist = fetch(res.json["playback_url"]).decode()
    assert "#EXT-X-START:TIME-OFFSET=1.000,PRECISE=YES" in playlist and "#EXT-X-MEDIA-SEQUENCE:1" in playlist
    assert [fetch(u) for u in segment_lines(playlist)] == [b"TS 000001.ts", b"TS 000002.ts"]
    assert replay(api, sid, "listener").json["start_offset_seconds"] == 3
    # a later worker report keeps the trim
    worker.report(sid, "available", 7.0)
    assert replay(api, sid).json["start_offset_seconds"] == 3


def test_no_replay_is_404(api, worker):
    sid = create(api)["id"]
    assert replay(api, sid).status_code == 404
    assert api.call("PATCH", f"/v1/spaces/{sid}/replay", as_user="host",
                    body={"start_offset_seconds": 1}).status_code == 404
    assert api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host").status_code == 404
    assert replay(api, "sp_missing").status_code == 404


def make_ticketed(sid: str) -> None:
    container().table.update(keys.space_pk(sid), keys.META, UpdateExpression="SET ticket = :t",
                             ExpressionAttributeValues={":t": {"M": {
                                 "price_cents": {"N": "500"}, "currency": {"S": "usd"},
                                 "quantity": {"N": "10"}, "sold": {"N": "1"}}}})


def test_a_ticketed_replay_needs_a_paid_ticket_except_on_stage(api, worker):
    from tests.fakes import Gate

    sid = create(api, recording=True)["id"]
    api.call("PUT", f"/v1/spaces/{sid}/cohosts/cole", as_user="host")
    api.call("PUT", f"/v1/spaces/{sid}/speakers/sam", as_user="host")
    make_ticketed(sid)
    end(api, sid)
    worker.record(sid, 2)
    container().replays.access.tickets = Gate({(sid, "payer")})
    for user in ("host", "cole", "sam", "payer"):
        res = replay(api, sid, user)
        assert res.status_code == 200 and res.json["playback_url"], user
    refused = replay(api, sid, "freeloader")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "ticket_required"


def test_the_real_ticket_repository_answers_the_gate(api, worker):
    sid = create(api, recording=True)["id"]
    make_ticketed(sid)
    end(api, sid)
    worker.record(sid, 1)
    assert replay(api, sid, "nobody").json["error"]["code"] == "ticket_required"


def test_replays_expire_after_the_configured_retention(api, worker, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_REPLAY_RETENTION_DAYS", "0")
    reset_container()
    sid = create(api, recording=True)["id"]
    end(api, sid)
    worker.record(sid, 1)
    assert replay(api, sid).status_code == 404
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["replay"] is None


def test_delete_removes_every_object_and_a_late_report_cannot_revive_it(api, worker):
    sid = create(api, recording=True)["id"]
    other = create(api, "other", recording=True)["id"]
    worker.record(other, 1)
    res = api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host")
    assert res.status_code == 404  # nothing recorded yet
    worker.write_recording(sid, 2, ended=False)
    worker.report(sid, "recording", 4.0)
    res = api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host")
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    end(api, sid)
    worker.record(sid, 3)
    url = replay(api, sid).json["download_url"]
    assert object_keys(f"spaces/{sid}/")
    assert api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="listener").status_code == 403
    res = api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host")
    assert res.status_code == 204 and not res.body
    assert object_keys(f"spaces/{sid}/") == []
    assert requests.get(url, timeout=5).status_code in (403, 404)  # S3 (and moto) hide a missing key
    assert replay(api, sid).status_code == 404
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["replay"] is None
    # the worker finalizing late writes again: the API removes it again and keeps it deleted
    worker.record(sid, 3)
    assert object_keys(f"spaces/{sid}/") == [] and replay(api, sid).status_code == 404
    assert worker.state(sid)["recording"] is False
    # a retried delete is fine, and the other Space's recording is untouched
    assert api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host").status_code == 204
    assert object_keys(f"spaces/{other}/")


def test_ending_dates_a_replay_the_worker_never_finalized(api, worker):
    sid = create(api, recording=True)["id"]
    worker.write_recording(sid, 1, ended=False)
    worker.report(sid, "recording", 2.0)
    end(api, sid)
    summary = api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["replay"]
    assert summary["state"] == "processing" and summary["expires_at"]
    assert container().space_repo.get(sid).replay.state.value == "processing"


@pytest.mark.parametrize("state", ["failed"])
def test_a_failed_recording_has_no_urls(api, worker, state):
    sid = create(api, recording=True)["id"]
    end(api, sid)
    worker.report(sid, state, 0.0, with_keys=False)
    body = replay(api, sid).json
    assert body["state"] == "failed" and body["playback_url"] is None and body["download_url"] is None


# -- worker failures become one JSON line each (the template's metric filter counts them) ------------
def worker_failures(capsys) -> list[dict]:
    """The failure lines written to stdout since the last call (each line a whole JSON event)."""
    import json

    from chalicelib.services.worker_failures import EVENT

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == EVENT]


def test_a_failed_dispatch_logs_one_worker_failure(api, media, monkeypatch, capsys):
    from chalicelib.domain.errors import UpstreamUnavailable

    def down(*args, **kwargs):
        raise UpstreamUnavailable("no agents")

    monkeypatch.setattr(media, "dispatch_agent", down)
    sid = create(api, recording=True)["id"]
    assert worker_failures(capsys) == [{"event": "media_worker_failure", "kind": "dispatch_failed", "space_id": sid}]
    create(api, "quiet", captions=False, clips_enabled=False)  # needs no worker: nothing dispatched or logged
    assert worker_failures(capsys) == []


def test_a_replay_reported_failed_logs_one_worker_failure(api, worker, capsys):
    sid = create(api, recording=True)["id"]
    worker.report(sid, "recording", 1.0)
    assert worker_failures(capsys) == []
    worker.report(sid, "failed", 1.0)
    assert worker_failures(capsys) == [{"event": "media_worker_failure", "kind": "replay_failed", "space_id": sid}]
    worker.report(sid, "failed", 1.0)  # the worker's retry of the same report is not a second failure
    assert worker_failures(capsys) == []
    # a replay already available stays so when a late "failed" arrives: no failure either
    other = create(api, "other", recording=True)["id"]
    end(api, other, "other")
    worker.record(other, 2)
    worker.report(other, "failed", 1.0)
    assert worker_failures(capsys) == []
