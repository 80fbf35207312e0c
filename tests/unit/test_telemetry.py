"""The telemetry adapters: EMF blobs with the metric names and dimensions ``domain/telemetry.py``
declares, one JSON line per event carrying its id, and a queue batch's lag and correlation."""
from __future__ import annotations

import logging

import pytest

from chalicelib.adapters.telemetry import EmfMetrics, PowertoolsEventLog
from chalicelib.domain.errors import AirwavesError, Conflict, Unauthenticated, UpstreamUnavailable, ValidationFailed
from chalicelib.domain.jobs import Ended, job_body
from chalicelib.domain.telemetry import NAMESPACE
from chalicelib.services.background_jobs import BatchIncomplete, JobBatch, QueueMessage
from tests.helpers import emf_points, log_lines


@pytest.mark.parametrize(("emit", "name", "unit", "dimensions", "value"), [
    (lambda m: m.joined("listener"), "Joins", "Count", {"Role": "listener"}, 1),
    (lambda m: m.listener_joined("hls"), "Listeners", "Count", {"Transport": "hls"}, 1),
    (lambda m: m.ticket_sold("USD"), "TicketsSold", "Count", {"Currency": "usd"}, 1),
    (lambda m: m.ticket_refunded("space_canceled"), "Refunds", "Count", {"Reason": "space_canceled"}, 1),
    (lambda m: m.webhook_handled("stripe", "paid"), "WebhookEvents", "Count", {"Source": "stripe", "Outcome": "paid"}, 1),
    (lambda m: m.queue_lag(2.5), "QueueLag", "Seconds", {}, 2.5),
])
def test_each_metric_is_one_emf_blob_with_its_name_and_dimensions(capsys, emit, name, unit, dimensions, value):
    emit(EmfMetrics())
    assert emf_points(capsys.readouterr().out) == [(NAMESPACE, name, unit, dimensions, value)]


def test_a_metric_that_cannot_be_emitted_does_not_fail_the_work(capsys, monkeypatch):
    import aws_lambda_powertools.metrics as powertools_metrics

    def refused(**_):
        raise powertools_metrics.SchemaValidationError("refused")

    monkeypatch.setattr(powertools_metrics, "single_metric", refused)
    EmfMetrics().joined("listener")
    out = capsys.readouterr().out
    assert emf_points(out) == []
    assert [line["message"] for line in log_lines(out)] == ["metric Joins not emitted: refused"]


def test_an_event_logs_one_json_line_under_its_id_and_counts_a_webhook_outcome(capsys):
    events = PowertoolsEventLog(EmfMetrics())
    with events.handling("stripe") as handled:
        logging.getLogger("chalicelib.services.test").warning("before the signature is checked")
        handled.identify("evt_123")
        handled.of_kind("payment_intent.succeeded")
        logging.getLogger("chalicelib.services.test").warning("while handling")
        handled.outcome("paid")
    out = capsys.readouterr().out
    before, during, line = log_lines(out)
    assert "correlation_id" not in before and during["correlation_id"] == "evt_123"
    assert {k: line[k] for k in ("message", "source", "event_id", "kind", "outcome", "correlation_id", "level")} == {
        "message": "event", "source": "stripe", "event_id": "evt_123", "kind": "payment_intent.succeeded",
        "outcome": "paid", "correlation_id": "evt_123", "level": "INFO"}
    assert emf_points(out) == [(NAMESPACE, "WebhookEvents", "Count", {"Source": "stripe", "Outcome": "paid"}, 1)]


@pytest.mark.parametrize(("event_id", "error", "outcome", "level"), [
    ("EV_1", Conflict("busy", code="in_progress"), "in_progress", "INFO"),
    (None, Unauthenticated("the webhook signature is not valid"), "refused", "INFO"),
    (None, ValidationFailed("Stripe-Signature: does not match this payload"), "refused", "INFO"),
    ("EV_1", UpstreamUnavailable("down"), "failed", "ERROR"),
    (None, UpstreamUnavailable("not configured"), "failed", "ERROR"),
    ("EV_1", RuntimeError("bug"), "failed", "ERROR"),
])
def test_an_event_that_raises_is_refused_failed_or_its_4xx_code(capsys, event_id, error, outcome, level):
    with pytest.raises(type(error)), PowertoolsEventLog(EmfMetrics()).handling("livekit", event_id):
        raise error
    out = capsys.readouterr().out
    (line,) = log_lines(out, "event")
    assert (line["outcome"], line["level"], line.get("correlation_id")) == (outcome, level, event_id)
    assert line["error"] == (error.code if isinstance(error, AirwavesError) else "RuntimeError")
    assert emf_points(out) == [(NAMESPACE, "WebhookEvents", "Count", {"Source": "livekit", "Outcome": outcome}, 1)]


def test_a_queue_batch_logs_each_message_under_its_id_and_measures_its_lag(capsys):
    class Jobs:
        def run(self, job):
            if job.space_id == "bad":
                raise ValueError("this job fails")

    class Queue:
        def delete(self, handles):
            pass

    metrics = EmfMetrics()
    batch = JobBatch(Jobs(), Queue(), metrics=metrics, events=PowertoolsEventLog(metrics),  # type: ignore[arg-type]
                     clock_ms=lambda: 1_000_000.0)
    with pytest.raises(BatchIncomplete):
        batch.handle([QueueMessage(job_body(Ended(space_id="ok")), "r1", "msg-ok", sent_at_ms=988_000),
                      QueueMessage(job_body(Ended(space_id="bad")), "r2", "msg-bad", sent_at_ms=999_500)])
    out = capsys.readouterr().out
    events = log_lines(out, "event")
    assert [(e["event_id"], e["correlation_id"], e["kind"], e["outcome"]) for e in events] == [
        ("msg-ok", "msg-ok", "ended", "done"), ("msg-bad", "msg-bad", "ended", "failed")]
    (failure,) = log_lines(out, "queue message failed: " + job_body(Ended(space_id="bad")))
    assert failure["correlation_id"] == "msg-bad" and failure["level"] == "ERROR"
    assert [p for p in emf_points(out) if p[1] == "QueueLag"] == [
        (NAMESPACE, "QueueLag", "Seconds", {}, 12.0), (NAMESPACE, "QueueLag", "Seconds", {}, 0.5)]
    assert not [p for p in emf_points(out) if p[1] == "WebhookEvents"]  # queue jobs are not webhooks


def test_powertools_metrics_switch_turns_the_emf_blobs_off(monkeypatch, capsys):
    from chalicelib.adapters.telemetry import EmfMetrics

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    EmfMetrics().joined("listener")
    assert "_aws" not in capsys.readouterr().out
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    EmfMetrics().joined("listener")
    assert '"Joins"' in capsys.readouterr().out
