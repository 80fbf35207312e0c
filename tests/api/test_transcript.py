"""Transcripts (issue 14's API half): the worker delivers segments (idempotent by segment_id),
``GET /v1/spaces/{id}/transcript`` answers JSON or WebVTT with the replay's access rules, and the
replay's ``transcript_url`` is a presigned WebVTT fetched from moto."""
from __future__ import annotations

import requests

from tests.api.test_replay import create, end, make_ticketed, replay
from tests.helpers import container


def deliver(worker, sid, *segments, headers=None):
    body = {"segments": [{"segment_id": s[0], "speaker_id": s[1], "start_seconds": s[2], "end_seconds": s[3],
                          "text": s[4]} for s in segments]}
    return worker.call("POST", f"/internal/media/spaces/{sid}/transcript-segments", body, headers=headers)


def transcript(api, sid, user="listener", fmt=None):
    return api.call("GET", f"/v1/spaces/{sid}/transcript" + (f"?format={fmt}" if fmt else ""), as_user=user)


def test_segments_arrive_idempotently_and_read_in_time_order(api, worker):
    sid = create(api)["id"]
    assert deliver(worker, sid, ("s2", "sam", 4.0, 6.5, "second"), ("s1", "host", 0.5, 3.0, "first")).status_code == 204
    assert deliver(worker, sid, ("s1", "host", 0.5, 3.0, "first, corrected")).status_code == 204
    items = transcript(api, sid).json["items"]
    assert items == [{"speaker_id": "host", "start_seconds": 0.5, "end_seconds": 3.0, "text": "first, corrected"},
                     {"speaker_id": "sam", "start_seconds": 4.0, "end_seconds": 6.5, "text": "second"}]
    assert deliver(worker, sid, ("s3", "x", 1, 2, "t"), headers={}).status_code == 401
    assert deliver(worker, sid, ("bad id!", "x", 1, 2, "t")).status_code == 400
    assert transcript(api, "sp_missing").status_code == 404


def test_webvtt(api, worker):
    sid = create(api)["id"]
    deliver(worker, sid, ("s1", "host", 61.25, 63.0, "hello there"))
    res = transcript(api, sid, fmt="vtt")
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/vtt")
    text = res.body.decode()
    assert text.startswith("WEBVTT") and "00:01:01.250 --> 00:01:03.000" in text and "<v host>hello there" in text
    assert transcript(api, sid, fmt="srt").status_code == 400


def test_the_replay_links_a_presigned_webvtt(api, worker):
    sid = create(api, recording=True)["id"]
    deliver(worker, sid, ("s1", "host", 0.0, 1.5, "welcome"))
    end(api, sid)
    worker.record(sid, 2)
    url = replay(api, sid).json["transcript_url"]
    vtt = requests.get(url, timeout=5)
    assert vtt.status_code == 200 and "<v host>welcome" in vtt.text


def test_ticketed_transcripts_follow_the_replay_rule(api, worker):
    from tests.fakes import Gate

    sid = create(api)["id"]
    api.call("PUT", f"/v1/spaces/{sid}/speakers/sam", as_user="host")
    deliver(worker, sid, ("s1", "host", 0.0, 1.0, "paid words"))
    make_ticketed(sid)
    container().replays.access.tickets = Gate({(sid, "payer")})
    for user in ("host", "sam", "payer"):
        assert transcript(api, sid, user).status_code == 200, user
    refused = transcript(api, sid, "freeloader", fmt="vtt")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "ticket_required"


def test_deleting_the_replay_deletes_the_transcript(api, worker):
    sid = create(api, recording=True)["id"]
    deliver(worker, sid, ("s1", "host", 0.0, 1.0, "gone soon"))
    end(api, sid)
    worker.record(sid, 1)
    assert api.call("DELETE", f"/v1/spaces/{sid}/replay", as_user="host").status_code == 204
    assert transcript(api, sid).json["items"] == []


def test_the_worker_listens_in_the_space_s_own_language(api, worker):
    sid = create(api, language="es-419")["id"]
    assert worker.state(sid)["language"] == "es-419"
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"language": "en_GB"})
    assert worker.state(sid)["language"] == "en-GB"


# -- which languages the caption engine does (the worker reports it) ----------------------------------
def report_engine(worker, engine, languages, headers=None):
    return worker.call("PUT", "/internal/media/caption-engine", {"engine": engine, "languages": languages},
                       headers=headers)


def test_health_shows_the_engine_the_worker_reported(api, worker):
    assert api.call("GET", "/v1/health").json["captions"] is None  # no worker has reported yet
    assert report_engine(worker, "embedded", ["en"]).status_code == 204
    captions = api.call("GET", "/v1/health").json["captions"]
    assert captions["engine"] == "embedded" and captions["languages"] == ["en"]
    assert captions["reported_at"].endswith("Z")
    assert report_engine(worker, "transcribe", ["fr-FR", "en-US", "en-US"]).status_code == 204
    admin = api.call("GET", "/v1/admin/health", as_user="ops", admin=True).json["captions"]
    assert (admin["engine"], admin["languages"]) == ("transcribe", ["en-US", "fr-FR"])


def test_only_the_worker_reports_an_engine_and_a_bad_report_is_a_400(api, worker):
    assert report_engine(worker, "embedded", ["en"], headers={}).status_code == 401
    assert report_engine(worker, "embedded", ["en"], headers={"Authorization": f"Bearer {api.token('host')}"}
                         ).status_code == 401
    for engine, languages in (("Bad Name!", ["en"]), ("embedded", ["en US"]), ("embedded", "en")):
        res = report_engine(worker, engine, languages)
        assert res.status_code == 400 and res.json["error"]["code"] == "validation_error", (engine, languages)
    assert api.call("GET", "/v1/health").json["captions"] is None


def test_a_space_in_a_language_the_engine_cannot_do_says_captions_are_unavailable(api, worker):
    english = create(api, language="en-GB")
    french = create(api, user="marie", language="fr")
    assert english["captions_status"] == french["captions_status"] == "on"  # nothing reported: no claim
    report_engine(worker, "embedded", ["en"])
    get = lambda sid: api.call("GET", f"/v1/spaces/{sid}", as_user="x").json  # noqa: E731
    assert get(english["id"])["captions_status"] == "on"
    assert get(french["id"])["captions_status"] == "unsupported_language"
    listed = {s["id"]: s["captions_status"] for s in api.call("GET", "/v1/spaces", as_user="x").json["items"]}
    assert listed == {english["id"]: "on", french["id"]: "unsupported_language"}
    res = api.call("PATCH", f"/v1/spaces/{french['id']}", as_user="marie", body={"language": "en-CA"})
    assert res.json["captions_status"] == "on"
    res = api.call("PATCH", f"/v1/spaces/{french['id']}", as_user="marie", body={"captions": False})
    assert res.json["captions_status"] == "off"
    report_engine(worker, "none", [])
    assert get(english["id"])["captions_status"] == "unavailable"
    report_engine(worker, "scripted", None)
    assert get(english["id"])["captions_status"] == "on"
    assert worker.state(english["id"])["language"] == "en-GB"  # the worker decides for itself, from the language
