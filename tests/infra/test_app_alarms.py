"""The operational alarms of template.yaml (issue 11) watch the metrics the app really emits: each
alarm on the app's namespace is compared with the EMF data point the metrics adapter prints for
the condition it watches (no metric name is written twice), and every alarm tells the ops topic."""
from __future__ import annotations

import pytest

from chalicelib.adapters.telemetry import EmfMetrics
from chalicelib.domain.telemetry import FAILED, REFUSED, WEBHOOK_SOURCES
from infra.app_template import QUEUE_LAG_ALARM_SECONDS, WEBHOOK_REFUSALS_ALARM, WEBHOOK_REFUSALS_PERIOD
from tests.helpers import emf_points
from tests.infra.templates import APP, load


def alarms() -> dict[str, dict]:
    return {k: v["Properties"] for k, v in load(APP)["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def watched(props: dict) -> tuple[str, str, dict[str, str]]:
    return props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}


def emitted(capsys, emit) -> tuple[str, str, dict[str, str], float]:
    capsys.readouterr()
    emit(EmfMetrics())
    ((namespace, name, _unit, dimensions, value),) = emf_points(capsys.readouterr().out)
    return namespace, name, dimensions, value


@pytest.mark.parametrize("source", WEBHOOK_SOURCES)
@pytest.mark.parametrize(("alarm", "outcome", "threshold", "period"), [
    ("WebhookFailuresAlarm", FAILED, 1, 300),
    ("WebhookRefusalsAlarm", REFUSED, WEBHOOK_REFUSALS_ALARM, WEBHOOK_REFUSALS_PERIOD),
])
def test_each_webhook_source_alarms_on_the_metric_its_failures_and_refusals_emit(
        capsys, source, alarm, outcome, threshold, period):
    props = alarms()[f"{source.capitalize()}{alarm}"]
    namespace, name, dimensions, _ = emitted(capsys, lambda m: m.webhook_handled(source, outcome))
    assert watched(props) == (namespace, name, dimensions)
    assert (props["Statistic"], props["Threshold"], props["Period"], props["ComparisonOperator"]) == (
        "Sum", threshold, period, "GreaterThanOrEqualToThreshold")


def test_the_queue_lag_alarm_fires_on_a_job_that_waited_too_long(capsys):
    props = alarms()["QueueLagAlarm"]
    namespace, name, dimensions, value = emitted(capsys, lambda m: m.queue_lag(QUEUE_LAG_ALARM_SECONDS + 1))
    assert watched(props) == (namespace, name, dimensions)
    assert props["Statistic"] == "Maximum" and value >= props["Threshold"] == QUEUE_LAG_ALARM_SECONDS
    _, _, _, fresh = emitted(capsys, lambda m: m.queue_lag(1.5))
    assert fresh < props["Threshold"]


def test_the_api_5xx_and_the_dead_letter_queues_are_alarmed():
    found = alarms()
    assert watched(found["ApiServerErrorsAlarm"]) == ("AWS/ApiGateway", "5XXError", {"ApiName": "airwaves", "Stage": "prod"})
    resources = load(APP)["Resources"]
    queues = [k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue" and k.endswith("DeadLetterQueue")]
    assert queues
    for queue in queues:
        namespace, name, dimensions = watched(found[f"{queue}Alarm"])
        assert (namespace, name, dimensions) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                                 {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}})


def test_every_alarm_tells_the_ops_topic():
    resources = load(APP)["Resources"]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    for name, props in alarms().items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}] == props["OKActions"], name
