"""The ``Metrics`` and ``EventLog`` ports on Powertools: CloudWatch EMF blobs and JSON log lines.

An EMF blob is one JSON line on stdout that CloudWatch Logs turns into metric data points, so no
role needs ``cloudwatch:PutMetricData``. Each data point is its own blob (Powertools'
``single_metric``) because the metrics carry different dimensions, and it is written at once, so
nothing is lost when an invocation fails. Powertools is imported on the first data point.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from chalicelib import logs
from chalicelib.domain.errors import AirwavesError
from chalicelib.domain.telemetry import (
    FAILED,
    NAMESPACE,
    REFUSED,
    Dimension,
    EventSource,
    Metric,
    RefundReason,
    Transport,
    WebhookSource,
)
from chalicelib.ports import HandledEvent, Metrics

log = logging.getLogger(__name__)


class EmfMetrics:
    def __init__(self, namespace: str = NAMESPACE) -> None:
        self.namespace = namespace

    def joined(self, role: str) -> None:
        self._count(Metric.joins, {Dimension.role: role})

    def listener_joined(self, transport: Transport) -> None:
        self._count(Metric.listeners, {Dimension.transport: transport})

    def ticket_sold(self, currency: str) -> None:
        self._count(Metric.tickets_sold, {Dimension.currency: currency.lower()})

    def ticket_refunded(self, reason: RefundReason) -> None:
        self._count(Metric.refunds, {Dimension.reason: reason})

    def webhook_handled(self, source: WebhookSource, outcome: str) -> None:
        self._count(Metric.webhook_events, {Dimension.source: source, Dimension.outcome: outcome})

    def queue_lag(self, seconds: float) -> None:
        self._emit(Metric.queue_lag, "Seconds", max(0.0, seconds), {})

    def _count(self, metric: Metric, dimensions: dict[Dimension, str]) -> None:
        self._emit(metric, "Count", 1, dimensions)

    def _emit(self, metric: Metric, unit: str, value: float, dimensions: dict[Dimension, str]) -> None:
        if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
            return  # Powertools' own switch, which its single_metric does not read (benches set it)
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        try:
            with single_metric(name=metric.value, unit=MetricUnit(unit), value=value, namespace=self.namespace,
                               default_dimensions={d.value: v for d, v in dimensions.items()}):
                pass
        except Exception as exc:  # noqa: BLE001 - a metric never fails the work it measures
            logs.logger()
            log.warning("metric %s not emitted: %s", metric.value, exc)


class _Handled:
    def __init__(self, source: EventSource, event_id: str | None) -> None:
        self.source = source
        self.request_id = logs.current_correlation_id()  # the API request that carried it, if one did
        self.event_id: str | None = None
        self.kind: str | None = None
        self.result: str | None = None
        self.error: str | None = None  # what it raised: our error's code, else the exception's class
        self._correlation = ExitStack()
        if event_id:
            self.identify(event_id)

    def identify(self, event_id: str) -> None:
        self.event_id = event_id
        self._correlation.close()
        self._correlation.enter_context(logs.correlated(event_id))

    def of_kind(self, kind: str) -> None:
        self.kind = kind

    def outcome(self, outcome: str) -> None:
        self.result = outcome

    def close(self) -> None:
        self._correlation.close()


def outcome_of(exc: BaseException, *, identified: bool) -> str:
    """A 4xx before the event was identified refused the delivery (its signature or its body);
    after, it is the 4xx's code (``in_progress``: retry later). Anything else is a failure."""
    if isinstance(exc, AirwavesError) and exc.status < 500:
        return exc.code if identified else REFUSED
    return FAILED


class PowertoolsEventLog:
    """Binds the event's id for the lines logged while it is handled, then logs its one line
    (source, id, kind, outcome, milliseconds, and the id of the request that delivered it, so the
    two lines join) and, for a webhook, counts its outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    @contextmanager
    def handling(self, source: EventSource, event_id: str | None = None) -> Iterator[HandledEvent]:
        logs.logger()  # the services' plain loggers print JSON from the first line on
        handled = _Handled(source, event_id)
        started = time.monotonic()
        try:
            yield handled
        except BaseException as exc:
            handled.result = outcome_of(exc, identified=handled.event_id is not None)
            handled.error = exc.code if isinstance(exc, AirwavesError) else type(exc).__name__
            raise
        finally:
            outcome = handled.result or "done"
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            logs.outcome("event", {"source": source, "event_id": handled.event_id, "kind": handled.kind,
                                   "outcome": outcome, "error": handled.error, "duration_ms": elapsed_ms,
                                   "request_id": handled.request_id},
                         failed=outcome == FAILED)
            handled.close()
            if source == "stripe" or source == "livekit":
                self.metrics.webhook_handled(source, outcome)
