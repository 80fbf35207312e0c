"""Media worker failures alarm without widening IAM (issue 13): the API's one JSON line per failure
(``chalicelib/services/worker_failures.py``) is counted by a metric filter on every function's log
group into ``Airwaves/MediaWorkerFailures``, alarmed to the AlarmTopic."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.services.worker_failures import EVENT, FILTER_PATTERN, report_worker_failure
from tests.infra.templates import APP, functions, load

# CloudWatch Logs' JSON filter syntax, the one form the filter uses: { $.a.b = "value" }
_EQUALS = re.compile(r'^\{\s*\$\.([A-Za-z_][\w.]*)\s*=\s*"([^"*]*)"\s*\}$')


def matches(pattern: str, event: str) -> bool:
    """Whether CloudWatch would count this log event: a JSON object whose selected value equals
    the string (a non-JSON event never matches a JSON pattern)."""
    found = _EQUALS.match(pattern)
    assert found, f"not the supported JSON equality form: {pattern!r}"
    try:
        value: Any = json.loads(event)
    except ValueError:
        return False
    for part in found.group(1).split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return isinstance(value, str) and value == found.group(2)


def test_the_matcher_can_fail():
    assert matches('{ $.a.b = "x" }', '{"a": {"b": "x"}}')
    assert not matches('{ $.a.b = "x" }', '{"a": {"b": "y"}}')
    assert not matches('{ $.a = "x" }', '[WARNING] {"a": "x"}')
    with pytest.raises(AssertionError):
        matches('{ $.a != "x" }', "{}")


def emitted(capsys, kind, space_id, **details) -> str:
    capsys.readouterr()
    report_worker_failure(kind, space_id, **details)
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1  # one line: one log event
    return out.rstrip("\n")


def test_the_filter_counts_exactly_the_failure_lines(capsys):
    lines = [emitted(capsys, "replay_failed", "sp_1"), emitted(capsys, "clip_failed", "sp_1", clip_id="cl_1"),
             emitted(capsys, "clip_timed_out", "sp_1", clip_id="cl_2"), emitted(capsys, "dispatch_failed", "sp_2")]
    for line in lines:
        assert matches(FILTER_PATTERN, line), line
        assert json.loads(line)["event"] == EVENT
    others = [
        "[WARNING]\t2026-12-02T15:00:00.000Z\treq\tmedia worker dispatch to sp_2 failed; recording waits",
        json.dumps({"event": "media_worker_failures", "kind": "replay_failed"}),
        json.dumps({"event": "replay_failed", "kind": EVENT}),
        json.dumps({"detail": {"event": EVENT}}),
        json.dumps([{"event": EVENT}]),
        "START RequestId: 1 Version: $LATEST",
    ]
    for line in others:
        assert not matches(FILTER_PATTERN, line), line


def test_every_function_log_group_counts_failures_into_one_alarmed_metric():
    template = load(APP)
    res = template["Resources"]
    filters = {k: v["Properties"] for k, v in res.items() if v["Type"] == "AWS::Logs::MetricFilter"}
    assert {f["LogGroupName"]["Ref"] for f in filters.values()} == {f"{fn}LogGroup" for fn in functions(template)}
    for props in filters.values():
        assert props["FilterPattern"] == FILTER_PATTERN
        assert props["MetricTransformations"] == [{"MetricNamespace": "Airwaves", "MetricName": "MediaWorkerFailures",
                                                   "MetricValue": "1", "Unit": "Count"}]
    alarm = res["MediaWorkerFailuresAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("Airwaves", "MediaWorkerFailures", "Sum")
    assert "Dimensions" not in props  # the filters publish the metric without any
    assert (props["Threshold"], props["ComparisonOperator"], props["Period"], props["EvaluationPeriods"]) == (
        1, "GreaterThanOrEqualToThreshold", 300, 1)
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}] and res["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_no_role_was_given_put_metric_data():
    text = APP.read_text()
    assert "PutMetricData" not in text
