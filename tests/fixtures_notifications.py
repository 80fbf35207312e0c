"""Schedules, queues and push on moto.

Every test that uses ``aws`` also gets the fan-out queue (with its dead-letter queue), the schedule
group and the SNS platform applications, provisioned by the same code ``make up`` runs. ``runner``
is the local runner (``infra/local/scheduler_runner.py``): it fires due schedules and drains the
queue into the app's own Lambda handlers. ``pushes`` reads what SNS was asked to deliver.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest


@pytest.fixture(autouse=True)
def notification_resources(request):
    if "aws" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("aws")
    from infra.local.scheduler_runner import provision

    provision()
    yield


@pytest.fixture
def runner(aws):
    from infra.local.scheduler_runner import LocalRunner

    return LocalRunner()


class Pushes:
    """What moto's SNS holds: endpoints and the messages published to each."""

    @property
    def backend(self):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        return sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def endpoints(self) -> dict[str, object]:
        return dict(self.backend.platform_endpoints)

    def to(self, endpoint_arn: str) -> list[dict]:
        endpoint = self.backend.platform_endpoints.get(endpoint_arn)
        return [json.loads(m) for m in endpoint.messages.values()] if endpoint else []

    def titles_to(self, endpoint_arn: str) -> list[str]:
        return [json.loads(m["APNS"])["aps"]["alert"]["title"] if "APNS" in m else m["default"]
                for m in self.to(endpoint_arn)]

    def data_to(self, endpoint_arn: str) -> list[dict]:
        return [json.loads(m["GCM"])["data"] for m in self.to(endpoint_arn)]

    def disable(self, endpoint_arn: str) -> None:
        self.backend.platform_endpoints[endpoint_arn].attributes["Enabled"] = False


@pytest.fixture
def pushes(aws):
    return Pushes()


class Schedules:
    """The schedule group as EventBridge Scheduler holds it."""

    def __init__(self) -> None:
        import boto3

        from chalicelib.settings import get_settings

        self.client = boto3.client("scheduler", region_name="us-east-1")
        self.group = get_settings().schedule_group

    def all(self) -> dict[str, dict]:
        names = [s["Name"] for s in self.client.list_schedules(GroupName=self.group).get("Schedules", [])]
        found = {n: self.client.get_schedule(GroupName=self.group, Name=n) for n in names}
        for schedule in found.values():
            schedule.pop("ResponseMetadata", None)
        return found

    def of(self, space_id: str) -> dict[str, dict]:
        return {name.split(".", 1)[1]: s for name, s in self.all().items() if name.startswith(space_id + ".")}


@pytest.fixture
def schedules(aws):
    return Schedules()


def at_time(schedule: dict) -> datetime:
    text = schedule["ScheduleExpression"][3:-1]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
