"""What the app measures and reports: metric names, their dimensions, the sources of events.

Named once here so the code that emits a metric (``adapters/telemetry.py``) and the alarms that
watch it (``infra/app_template.py``) cannot drift apart: both import these names.
"""
from __future__ import annotations

from enum import Enum
from typing import Literal

NAMESPACE = "Airwaves"  # CloudWatch namespace of the app's own metrics
SERVICE = "airwaves"    # the ``service`` key of every log line

WebhookSource = Literal["stripe", "livekit"]
EventSource = Literal["stripe", "livekit", "sqs", "scheduler"]
WEBHOOK_SOURCES: tuple[WebhookSource, ...] = ("stripe", "livekit")
Transport = Literal["webrtc", "hls"]
RefundReason = Literal["no_seat", "space_canceled", "payment_refunded"]

FAILED = "failed"    # the outcome of an event whose handling raised something other than a 4xx
REFUSED = "refused"  # a delivery refused before it was known as an event (bad signature, not an event)
# The failures of the media worker, no dimensions, from two sources: a log metric filter counts the
# functions' ``media_worker_failure`` lines (what the worker reports or the API sees,
# ``services/worker_failures.py``) and the worker's own EMF counts what only it sees.
MEDIA_WORKER_FAILURES = "MediaWorkerFailures"


class Metric(str, Enum):
    """The app's metrics (CloudWatch EMF, namespace ``NAMESPACE``)."""

    joins = "Joins"                    # a join answered with credentials, by Role
    listeners = "Listeners"            # a listener's join, by Transport (webrtc or hls overflow)
    tickets_sold = "TicketsSold"       # a ticket became paid, by Currency
    refunds = "Refunds"                # a ticket became refunded, by Reason
    webhook_events = "WebhookEvents"   # a webhook delivery handled, by Source and Outcome
    queue_lag = "QueueLag"             # seconds a work-queue message waited before it was handled


class WorkerMetric(str, Enum):
    """The media worker's EMF metrics (namespace ``NAMESPACE``, no dimensions), printed in its log lines on
    the LiveKit nodes. The worker cannot import this module: ``livekit/worker/airwaves_media/logs.py``
    spells the same names and ``tests/infra/test_app_dashboard.py`` compares the two."""

    failures = MEDIA_WORKER_FAILURES
    caption_latency = "CaptionLatency"       # seconds from a caption's last audio to its publication
    hls_upload_lag = "HlsSegmentUploadLag"   # seconds from a live HLS segment's end to its upload


class Dimension(str, Enum):
    role = "Role"
    transport = "Transport"
    currency = "Currency"
    reason = "Reason"
    source = "Source"
    outcome = "Outcome"
