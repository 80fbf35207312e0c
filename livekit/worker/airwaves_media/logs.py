"""The worker's log lines: one JSON object per line on stdout, carrying the Space, job, dispatch and
room of the job that logged it.

This is a small formatter of its own rather than the app's ``chalicelib/logs.py``: the worker is a
separate package with its own venv, run as a long-lived process beside livekit-server, not in Lambda,
so the app's module (and Powertools' Lambda Logger behind it) is neither importable nor meant for it.
The keys are the app's (``level``, ``message``, ``timestamp``, ``service``) so one query reads both.

The job's fields ride on livekit-agents' ``JobContext.log_context_fields``: the SDK adds them to every
record logged in the job's process (with the thread executor, in the job's context) and carries the
record across its process boundary to the worker's main process, where this formatter prints it.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

SERVICE = "airwaves-media"
JOB_FIELDS = ("space_id", "job_id", "dispatch_id", "room")
# A line per HTTP request (the worker polls its Space every second) and per credential lookup: only
# their warnings are worth a line. livekit-agents' own CLI quiets the same loggers.
QUIET_LOGGERS = ("httpx", "httpcore", "botocore", "urllib3")
# What every LogRecord has (and what Formatter.format adds): anything else on a record is an extra.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


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
            if key not in _STANDARD and not key.startswith("_") and value is not None:
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
