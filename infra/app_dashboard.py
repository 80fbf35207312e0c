"""The app's CloudWatch dashboard in ``template.yaml``: its business and health in one page.

Every metric comes from the names ``chalicelib/domain/telemetry.py`` declares (as the alarms do), and
dimension values the domain names as a ``Literal`` (roles, transports, refund reasons, webhook
sources) become one line each; values it cannot list (currencies, the 4xx codes a webhook outcome may
be) are a metric search over the dimension, so a new currency shows up without a template change.
``tests/infra/test_app_dashboard.py`` checks each widget against the EMF the app prints.
"""
from __future__ import annotations

import json
from typing import Any, get_args

from chalicelib.domain.roles import RoleName
from chalicelib.domain.telemetry import (
    MEDIA_WORKER_FAILURES,
    NAMESPACE,
    WEBHOOK_SOURCES,
    Dimension,
    Metric,
    RefundReason,
    Transport,
    WorkerMetric,
)
from infra.cfn import sub

PERIOD = 300          # seconds per data point: the alarms' period
WIDTH, HEIGHT = 12, 6  # two widgets a row (the grid is 24 wide)
REGION = "${AWS::Region}"


def app_metric(metric: str, dimensions: dict[Dimension, str] | None = None, **options: Any) -> list[Any]:
    """One line of a metric widget: the app's namespace, the metric, its dimensions, its options."""
    line: list[Any] = [NAMESPACE, metric]
    for name, value in (dimensions or {}).items():
        line += [name.value, value]
    return line + ([options] if options else [])


def percentiles(metric: str, namespace: str = NAMESPACE, *dimensions: str) -> list[list[Any]]:
    """p50, p90 and p99 of one metric, a line each."""
    return [[namespace, metric, *dimensions, {"stat": stat, "label": stat}] for stat in ("p50", "p90", "p99")]


def search(metric: Metric, dimensions: tuple[Dimension, ...], stat: str, **fixed: str) -> list[Any]:
    """Every series of ``metric`` with exactly these dimensions (``fixed`` narrows some of them)."""
    schema = ",".join([NAMESPACE, *sorted(d.value for d in dimensions)])
    terms = " ".join([f'MetricName="{metric.value}"', *(f'{k}="{v}"' for k, v in sorted(fixed.items()))])
    return [{"expression": f"SEARCH('{{{schema}}} {terms}', '{stat}', {PERIOD})", "id": "search"}]


def widget(title: str, metrics: list[list[Any]], *, stat: str = "Sum", alarm_at: float | None = None,
           **properties: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"title": title, "region": REGION, "view": "timeSeries", "stacked": False,
                             "stat": stat, "period": PERIOD, "metrics": metrics, **properties}
    if alarm_at is not None:
        props["annotations"] = {"horizontal": [{"label": "alarm", "value": alarm_at}]}
    return {"type": "metric", "width": WIDTH, "height": HEIGHT, "properties": props}


def widgets(api_dimensions: dict[str, str], queue_lag_alarm_seconds: float) -> list[dict[str, Any]]:
    """Business first (joins, listeners, tickets, refunds), then each webhook source's outcomes, then
    health (queue lag, the media worker's failures, caption latency and live HLS upload lag, API 5xx and
    latency); alarm thresholds drawn as lines."""
    api = [v for pair in api_dimensions.items() for v in pair]
    business = [
        widget("Joins by role", [app_metric(Metric.joins.value, {Dimension.role: role}, label=role)
                                 for role in get_args(RoleName)]),
        widget("Listeners by transport", [app_metric(Metric.listeners.value, {Dimension.transport: t}, label=t)
                                          for t in get_args(Transport)]),
        widget("Tickets sold by currency", [search(Metric.tickets_sold, (Dimension.currency,), "Sum")]),
        widget("Refunds by reason", [app_metric(Metric.refunds.value, {Dimension.reason: r}, label=r)
                                     for r in get_args(RefundReason)]),
    ]
    webhooks = [widget(f"{source} webhook outcomes", [search(
        Metric.webhook_events, (Dimension.source, Dimension.outcome), "Sum", **{Dimension.source.value: source})])
        for source in WEBHOOK_SOURCES]
    health = [
        widget("Work-queue lag (seconds a job waited)", [
            app_metric(Metric.queue_lag.value, stat="Maximum", label="max"),
            app_metric(Metric.queue_lag.value, stat="Average", label="average")],
            stat="Maximum", alarm_at=queue_lag_alarm_seconds),
        widget("Media worker failures", [app_metric(MEDIA_WORKER_FAILURES)], alarm_at=1),
        widget("Caption latency (s, last audio to published)", percentiles(WorkerMetric.caption_latency.value),
               stat="p50"),
        widget("Live HLS segment upload lag (s, segment end to uploaded)",
               percentiles(WorkerMetric.hls_upload_lag.value), stat="p50"),
        widget("API 5xx answers", [["AWS/ApiGateway", "5XXError", *api]], alarm_at=1),
        widget("API latency (ms)", percentiles("Latency", "AWS/ApiGateway", *api), stat="p50"),
    ]
    laid_out = business + webhooks + health
    for i, w in enumerate(laid_out):
        w["x"], w["y"] = (i % 2) * WIDTH, (i // 2) * HEIGHT
    return laid_out


def dashboard_resource(api_dimensions: dict[str, str], *, queue_lag_alarm_seconds: float) -> dict[str, Any]:
    """The dashboard, named after the stack and its region (dashboard names are per account)."""
    body = '{"widgets": [\n' + ",\n".join(json.dumps(w) for w in widgets(api_dimensions, queue_lag_alarm_seconds))
    return {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": sub("${AWS::StackName}-${AWS::Region}"), "DashboardBody": sub(body + "\n]}")}}


DASHBOARD_URL = sub("https://${AWS::Region}.console.${AWS::URLSuffix}/cloudwatch/home?region=${AWS::Region}"
                    "#dashboards:name=${Dashboard}")
