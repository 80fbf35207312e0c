"""Media worker failures as the API sees them, one JSON line each on stdout.

The worker runs on the LiveKit nodes, where publishing a CloudWatch metric would need
``cloudwatch:PutMetricData`` on ``Resource: "*"``. Instead every function's log group carries a
metric filter (``infra/app_template.py``) that counts these lines into ``Airwaves/MediaWorkerFailures``,
alarmed to the AlarmTopic. A Lambda's stdout line is one log event as written, so the line is the
whole event and CloudWatch's JSON filter syntax applies to it.

Each failure is reported once, where it becomes final: a replay the worker reports ``failed`` (not
on a repeated report), a clip the worker reports ``failed`` (once: only a pending clip moves), and a
dispatch LiveKit refused, and a clip still pending past the clip timeout (``AIRWAVES_CLIP_TIMEOUT_SECONDS``;
it only *reads* failed, so the first read that sees it reports it, gated once per clip).
"""
from __future__ import annotations

import json
import sys
from typing import Literal

EVENT = "media_worker_failure"
FILTER_PATTERN = f'{{ $.event = "{EVENT}" }}'  # the metric filter's pattern, CloudWatch JSON syntax

FailureKind = Literal["replay_failed", "clip_failed", "clip_timed_out", "dispatch_failed"]


def report_worker_failure(kind: FailureKind, space_id: str, **details: str | float | None) -> None:
    line = json.dumps({"event": EVENT, "kind": kind, "space_id": space_id, **details}, sort_keys=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
