"""The CloudWatch dashboard of template.yaml shows the metrics the app really emits: every line of
every widget is compared with the EMF data points the metrics adapter prints (a metric search with
the dimensions a point carries), every series the app can emit is on it, and the AWS metrics it shows
are the ones the alarms watch (the REST API's, and the media worker failures' metric filter). The media
worker's own EMF (failures, caption latency, live HLS upload lag) is compared the same way: its logs
module is stdlib only, so it loads here from livekit/worker."""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import re
from types import ModuleType
from typing import Any, get_args

import pytest

from chalicelib.adapters.telemetry import EmfMetrics
from chalicelib.domain.roles import RoleName
from chalicelib.domain.telemetry import (
    FAILED,
    MEDIA_WORKER_FAILURES,
    NAMESPACE,
    REFUSED,
    WEBHOOK_SOURCES,
    Metric,
    RefundReason,
    Transport,
    WorkerMetric,
)
from infra.app_dashboard import PERIOD, WIDTH
from tests.helpers import emf_points
from tests.infra.templates import APP, ROOT, load

SEARCH = re.compile(r"^SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<metric>[^\"]+)\"(?P<terms>( \w+=\"[^\"]*\")*)', "
                    r"'(?P<stat>\w+)', (?P<period>\d+)\)$")
Series = tuple[str, str, dict[str, str]]  # namespace, metric, dimensions


def body() -> str:
    return load(APP)["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]


def widgets() -> list[dict[str, Any]]:
    return json.loads(body())["widgets"]


class Line:
    """One line of a metric widget: a metric with all its dimensions, or a search over some."""

    def __init__(self, line: list[Any]) -> None:
        if isinstance(line[0], dict):
            found = SEARCH.match(line[0]["expression"])
            assert found, line
            self.namespace, *names = found["schema"].split(",")
            self.metric = found["metric"]
            self.dimension_names: set[str] | None = set(names)
            self.dimensions = dict(re.findall(r' (\w+)="([^"]*)"', found["terms"]))
            assert int(found["period"]) == PERIOD
        else:
            self.namespace, self.metric, *rest = line
            if rest and isinstance(rest[-1], dict):
                rest = rest[:-1]  # the line's options (label, stat)
            self.dimension_names = None
            self.dimensions = dict(zip(rest[::2], rest[1::2], strict=True))

    def shows(self, series: Series) -> bool:
        namespace, metric, dimensions = series
        if (namespace, metric) != (self.namespace, self.metric):
            return False
        if self.dimension_names is None:
            return dimensions == self.dimensions
        return set(dimensions) == self.dimension_names and self.dimensions.items() <= dimensions.items()


def lines() -> list[Line]:
    return [Line(line) for w in widgets() for line in w["properties"]["metrics"]]


@pytest.fixture
def emitted(capsys) -> list[Series]:
    """Every series the app's metrics port can print, with each value the domain lists (a few for
    the open ones: currencies, and outcomes that are a 4xx's code)."""
    metrics = EmfMetrics()
    capsys.readouterr()
    for role in get_args(RoleName):
        metrics.joined(role)
    for transport in get_args(Transport):
        metrics.listener_joined(transport)
    for currency in ("USD", "eur"):
        metrics.ticket_sold(currency)
    for reason in get_args(RefundReason):
        metrics.ticket_refunded(reason)
    for source in WEBHOOK_SOURCES:
        for outcome in ("done", FAILED, REFUSED, "in_progress"):
            metrics.webhook_handled(source, outcome)
    metrics.queue_lag(12.5)
    return [(ns, name, dims) for ns, name, _unit, dims, _value in emf_points(capsys.readouterr().out)]


def worker_logs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "worker_logs", ROOT / "livekit" / "worker" / "airwaves_media" / "logs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def worker_emitted() -> list[Series]:
    """Every series the media worker prints: a failure's line, a caption's latency, a segment's lag."""
    logs = worker_logs()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonLines())
    log = logging.getLogger("test_worker_emitted")
    log.propagate, log.handlers = False, [handler]
    logs.metrics_log.addHandler(handler)
    try:
        log.error("live HLS upload of sp_1 failed", extra=logs.failure("live_upload"))
        logs.measured(logs.Metric.caption_latency, 0.8, final=True)
        logs.measured(logs.Metric.hls_upload_lag, 0.3, segment=7)
    finally:
        logs.metrics_log.removeHandler(handler)
    assert {m.value for m in logs.Metric} == {m.value for m in WorkerMetric} and logs.NAMESPACE == NAMESPACE
    return [(ns, name, dims) for ns, name, _unit, dims, _value in emf_points(out.getvalue())]


def test_the_body_is_json_once_the_region_is_put_in():
    assert set(re.findall(r"\$\{([^}]*)\}", body())) == {"AWS::Region"}
    assert all(w["type"] == "metric" and w["properties"]["region"] == "${AWS::Region}" for w in widgets())


def test_a_line_shows_only_its_own_series():
    """The comparison below can fail: a wrong name, a missing or extra dimension is not shown."""
    exact = Line([NAMESPACE, "Listeners", "Transport", "hls", {"label": "hls"}])
    searched = Line([{"expression": f"SEARCH('{{{NAMESPACE},Outcome,Source}} MetricName=\"WebhookEvents\" "
                                    f"Source=\"stripe\"', 'Sum', {PERIOD})", "id": "search"}])
    assert exact.shows((NAMESPACE, "Listeners", {"Transport": "hls"}))
    assert not exact.shows((NAMESPACE, "Listener", {"Transport": "hls"}))
    assert not exact.shows((NAMESPACE, "Listeners", {"Transport": "hls", "Role": "listener"}))
    assert searched.shows((NAMESPACE, "WebhookEvents", {"Source": "stripe", "Outcome": "in_progress"}))
    assert not searched.shows((NAMESPACE, "WebhookEvents", {"Source": "livekit", "Outcome": "failed"}))
    assert not searched.shows((NAMESPACE, "WebhookEvents", {"Source": "stripe"}))


def test_every_line_on_the_app_namespace_shows_a_series_the_app_or_its_worker_emits(emitted, worker_emitted):
    for line in lines():
        if line.namespace == NAMESPACE:
            assert any(line.shows(series) for series in emitted + worker_emitted), (line.metric, line.dimensions)


def test_every_series_the_worker_emits_is_on_the_dashboard(worker_emitted):
    assert sorted(name for _, name, _ in worker_emitted) == sorted(m.value for m in WorkerMetric)
    shown = lines()
    for series in worker_emitted:
        assert any(line.shows(series) for line in shown), series


def test_every_series_the_app_emits_is_on_the_dashboard(emitted):
    assert {name for _, name, _ in emitted} == {m.value for m in Metric}
    shown = lines()
    for series in emitted:
        assert any(line.shows(series) for line in shown), series


def test_the_aws_metrics_are_the_ones_the_alarms_watch():
    resources = load(APP)["Resources"]
    api_alarm = resources["ApiServerErrorsAlarm"]["Properties"]
    api = {d["Name"]: d["Value"] for d in api_alarm["Dimensions"]}
    shown = {(line.namespace, line.metric): line.dimensions for line in lines() if line.namespace != NAMESPACE}
    assert shown == {("AWS/ApiGateway", "5XXError"): api, ("AWS/ApiGateway", "Latency"): api}
    transformations = {json.dumps(t) for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter"
                       for t in r["Properties"]["MetricTransformations"]}
    (transformation,) = map(json.loads, transformations)
    (failures,) = [line for line in lines() if line.metric == transformation["MetricName"]]
    assert (failures.namespace, failures.metric, failures.dimensions) == (
        transformation["MetricNamespace"], MEDIA_WORKER_FAILURES, {})


def test_the_widgets_tile_the_grid_without_overlap():
    taken: set[tuple[int, int]] = set()
    for w in widgets():
        assert w["x"] >= 0 and w["x"] + w["width"] <= 2 * WIDTH
        cells = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & taken, w["properties"]["title"]
        taken |= cells


def test_the_stack_outputs_the_dashboard_link():
    url = load(APP)["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.endswith("#dashboards:name=${Dashboard}") and "region=${AWS::Region}" in url
