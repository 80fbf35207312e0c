"""The worker's log lines: one JSON object per line on stdout, carrying the Space, job, dispatch and
room of the job that logged it.

This is a small formatter of its own rather than the app's ``chalicelib/logs.py``: the worker is a
separate package with its own venv, run as a long-lived process beside livekit-server, not in Lambda,
so the app's module (and Powertools' Lambda Logger behind it) is neither importable nor meant for it.
The keys are the app's (``level``, ``message``, ``timestamp``, ``service``) so one query reads both.

The job's fields ride on livekit-agents' ``JobContext.log_context_fields``: the SDK adds them to every
record logged in the job's process (with the thread executor, in the job's context) and carries the
record across its process boundary to the worker's main process, where this formatter prints it.

Metrics are CloudWatch EMF in these lines (the nodes' CloudWatch agent ships them to a log group, where
CloudWatch Logs extracts them), so the node role needs no ``cloudwatch:PutMetricData``, which cannot be
limited to a resource. Their names are the app's (``chalicelib/domain/telemetry.py``: ``NAMESPACE`` and
``WorkerMetric``), written again here because the worker cannot import the app; tests/infra compares them.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from enum import Enum

SERVICE = "airwaves-media"
JOB_FIELDS = ("space_id", "job_id", "dispatch_id", "room")
# A line per HTTP request (the worker polls its Space every second) and per credential lookup: only
# their warnings are worth a line. livekit-agents' own CLI quiets the same loggers.
QUIET_LOGGERS = ("httpx", "httpcore", "botocore", "urllib3")
# What every LogRecord has (and what Formatter.format adds): anything else on a record is an extra.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


NAMESPACE = "Airwaves"
EMF = "emf"  # the record attribute whose members join the line's own (the EMF directive and values)
metrics_log = logging.getLogger("airwaves_media.metrics")
metrics_log.setLevel(logging.INFO)  # data points, printed whatever AIRWAVES_MEDIA_LOG_LEVEL says


class Metric(str, Enum):
    failures = "MediaWorkerFailures"         # a failure only the worker sees (what it reports, the API counts)
    caption_latency = "CaptionLatency"       # seconds from a caption's last audio to its publication
    hls_upload_lag = "HlsSegmentUploadLag"   # seconds from a live segment's end to its upload


def emf(metric: Metric, value: float, unit: str) -> dict[str, object]:
    """One data point, no dimensions (the line's other members, the job's ids, are its properties)."""
    return {EMF: {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": [{"Name": metric.value, "Unit": unit}]}]},
        metric.value: value}}


def failure(kind: str) -> dict[str, object]:
    """``extra`` for the line that logs a failure: the same line counts it (``failure`` names it). Not
    for a failure the worker reports to the API (a replay or clip ``failed``): the API counts those into
    the same metric, which its alarm watches."""
    return {**emf(Metric.failures, 1, "Count"), "failure": kind}


def measured(metric: Metric, seconds: float, **properties: object) -> None:
    """A duration data point on a line of its own (at INFO whatever the worker's log level)."""
    metrics_log.info(metric.value, extra={**emf(metric, round(max(0.0, seconds), 3), "Seconds"), **properties})


def job_fields(space_id: str, job_id: str, dispatch_id: str, room: str) -> dict[str, str]:
    """The fields every line of one job carries (``JobContext.log_context_fields``)."""
    return {"space_id": space_id, "job_id": job_id, "dispatch_id": dispatch_id, "room": room}


class JsonLines(logging.Formatter):
    """A record as one JSON object: level, message, timestamp (UTC, ISO 8601), service, logger,
    the job's fields and any other ``extra``, and the traceback under ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        exception = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if exception and message.endswith("\n" + exception):
            # a job process's record arrives with its traceback already joined to the message
            message = message[:-len(exception) - 1]
        line: dict[str, object] = {
            "level": record.levelname, "message": message,
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": SERVICE, "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key == EMF and isinstance(value, dict):
                line.update(value)
            elif key not in _STANDARD and not key.startswith("_") and value is not None:
                line.setdefault(key, value)
        if exception:
            line["exception"] = exception
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str) -> None:
    """JSON lines on stdout for everything the worker and its SDK log (systemd's journal keeps them)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
