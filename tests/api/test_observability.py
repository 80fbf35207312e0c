"""Logs and metrics of the API and its events (issue 11): one JSON line per request and per
event, each under its correlation id, answered in ``X-Request-Id``; no token or signed query in
any line; EMF data points for joins; the Scheduler's execution id on a scheduled invocation."""
from __future__ import annotations

import json
import uuid

from chalicelib.domain.telemetry import NAMESPACE
from tests.api.test_livekit_webhook import deliver, event
from tests.helpers import emf_points, log_lines


def test_a_request_logs_one_json_line_under_the_callers_request_id(api, space_id, capsys):
    token = api.token("fan")
    capsys.readouterr()
    request_id = f"client-{uuid.uuid4().hex}"
    res = api.call("GET", f"/v1/spaces/{space_id}?signature=s3cr3t-query", as_user="fan",
                   headers={"X-Request-Id": request_id})
    assert res.status_code == 200 and res.headers["X-Request-Id"] == request_id
    out = capsys.readouterr().out
    (line,) = log_lines(out, "request")
    assert {k: line[k] for k in ("correlation_id", "method", "route", "status", "level", "service")} == {
        "correlation_id": request_id, "method": "GET", "route": "/v1/spaces/{space_id}", "status": 200,
        "level": "INFO", "service": "airwaves"}
    assert line["duration_ms"] >= 0
    assert token not in out and "s3cr3t-query" not in out


def test_without_a_plausible_request_id_the_answer_carries_the_one_it_was_logged_under(api, capsys):
    api.token("fan")
    for header in ({}, {"X-Request-Id": "short"}, {"X-Request-Id": "x" * 129}, {"X-Request-Id": "a b\nforged log"}):
        capsys.readouterr()
        res = api.call("GET", "/v1/spaces/nope", as_user="fan", headers=header)
        assert res.status_code == 404
        (line,) = log_lines(capsys.readouterr().out, "request")
        assert line["status"] == 404 and line["correlation_id"] == res.headers["X-Request-Id"]
        assert res.headers["X-Request-Id"] != header.get("X-Request-Id")


def test_a_livekit_webhook_logs_its_event_under_the_webhook_id_and_counts_its_outcome(api, space_id, capsys):
    body = event("participant_joined", space_id, "alice", role="listener")
    webhook_id = json.loads(body)["id"]
    capsys.readouterr()
    res = deliver(api, body)
    assert res.status_code == 200 and res.json["outcome"] == "counted"
    out = capsys.readouterr().out
    (line,) = log_lines(out, "event")
    assert {k: line[k] for k in ("correlation_id", "source", "event_id", "kind", "outcome")} == {
        "correlation_id": webhook_id, "source": "livekit", "event_id": webhook_id, "kind": "participant_joined",
        "outcome": "counted"}
    (request,) = log_lines(out, "request")
    assert request["correlation_id"] == res.headers["X-Request-Id"] == line["request_id"] != webhook_id
    assert (NAMESPACE, "WebhookEvents", "Count", {"Source": "livekit", "Outcome": "counted"}, 1) in emf_points(out)


def test_a_webhook_with_a_bad_signature_is_counted_as_refused(api, space_id, capsys):
    capsys.readouterr()
    assert deliver(api, event("participant_joined", space_id, "alice"), auth="Bearer forged").status_code == 401
    out = capsys.readouterr().out
    (line,) = log_lines(out, "event")
    assert (line["source"], line.get("event_id"), line["outcome"], line["error"]) == (
        "livekit", None, "refused", "unauthenticated")
    assert "forged" not in out
    assert [p for p in emf_points(out) if p[1] == "WebhookEvents"] == [
        (NAMESPACE, "WebhookEvents", "Count", {"Source": "livekit", "Outcome": "refused"}, 1)]


def test_a_join_counts_the_role_and_a_listeners_transport(api, space_id, capsys):
    capsys.readouterr()
    assert api.call("POST", f"/v1/spaces/{space_id}/join", as_user="fan").status_code == 200
    assert api.call("POST", f"/v1/spaces/{space_id}/join", as_user="host").status_code == 200
    points = [p for p in emf_points(capsys.readouterr().out) if p[1] in ("Joins", "Listeners")]
    assert points == [(NAMESPACE, "Joins", "Count", {"Role": "listener"}, 1),
                      (NAMESPACE, "Listeners", "Count", {"Transport": "webrtc"}, 1),
                      (NAMESPACE, "Joins", "Count", {"Role": "host"}, 1)]


def test_a_scheduled_invocation_logs_under_the_schedulers_execution_id(api, capsys):
    import app

    invocation = {"kind": "reminder", "space_id": "sp_gone", "scheduled_start": "2030-01-01T00:00:00Z",
                  "execution_id": "d32c5kddcf5bb8c3"}
    capsys.readouterr()
    assert app.space_reminder(invocation, None)["done"] == "nothing (stale schedule)"
    (line,) = log_lines(capsys.readouterr().out, "event")
    assert (line["correlation_id"], line["source"], line["kind"], line["outcome"]) == (
        "d32c5kddcf5bb8c3", "scheduler", "reminder", "nothing (stale schedule)")


def test_a_crash_is_logged_as_json_under_the_request_id(api, space_id, capsys, monkeypatch):
    from chalicelib.services.spaces import SpaceService

    def crash(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(SpaceService, "get", crash)
    api.token("fan")
    capsys.readouterr()
    res = api.call("GET", f"/v1/spaces/{space_id}", as_user="fan")
    assert res.status_code == 500 and res.json["error"]["code"] == "internal_error"
    out = capsys.readouterr().out
    lines = log_lines(out)
    assert lines and all(line["correlation_id"] == res.headers["X-Request-Id"] for line in lines)
    assert any("RuntimeError: a bug" in line.get("exception", "") for line in lines)
    (request,) = log_lines(out, "request")
    assert (request["status"], request["level"]) == (500, "ERROR")
