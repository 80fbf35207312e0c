"""EventBridge Scheduler: one-time ``at(...)`` schedules in one schedule group.

Each schedule invokes a Lambda function (a Chalice ``@app.lambda_function``) with a JSON payload,
assuming the role Scheduler needs; it deletes itself after it ran. ``put`` creates or replaces a
schedule of that name, ``delete`` is idempotent. AWS failures become ``UpstreamUnavailable``.
"""
from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.aws_clients import error_code, make_client
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.schedules import ScheduledInvocation

# Scheduler retries a failed invocation; after a day or 20 tries the event goes to the DLQ.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 24 * 3600, "MaximumRetryAttempts": 20}
# Scheduler replaces this keyword in the target's input with the id of each attempt, which the
# handler logs as the invocation's correlation id (``app.py``).
EXECUTION_ID = "<aws.scheduler.execution-id>"


def at_expression(moment: datetime) -> str:
    return "at(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ")"


class EventBridgeScheduler:
    def __init__(self, *, group: str, role_arn: str, dead_letter_arn: str = "", region: str = "us-east-1",
                 client: Any = None) -> None:
        self.group = group
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn
        self._region = region
        self._client = client

    @property
    def configured(self) -> bool:
        return bool(self.group and self.role_arn)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("scheduler", self._region)
        return self._client

    def _definition(self, name: str, at: datetime, target_arn: str,
                    invocation: ScheduledInvocation) -> dict[str, Any]:
        payload = {**invocation.model_dump(mode="json"), "execution_id": EXECUTION_ID}
        target: dict[str, Any] = {"Arn": target_arn, "RoleArn": self.role_arn,
                                  "Input": json.dumps(payload, sort_keys=True), "RetryPolicy": dict(RETRY_POLICY)}
        if self.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        return {"Name": name, "GroupName": self.group, "ScheduleExpression": at_expression(at),
                "ScheduleExpressionTimezone": "UTC", "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": target, "ActionAfterCompletion": "DELETE", "State": "ENABLED"}

    def put(self, name: str, at: datetime, target_arn: str, invocation: ScheduledInvocation) -> None:
        """Create the schedule, or replace it when one of that name exists (a moved Space)."""
        definition = self._definition(name, at, target_arn, invocation)
        try:
            self._call("create_schedule", **definition)
        except _Exists:
            self._call("update_schedule", **definition)

    def delete(self, name: str) -> None:
        with contextlib.suppress(_Missing):
            self._call("delete_schedule", Name=name, GroupName=self.group)

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return self._call("get_schedule", Name=name, GroupName=self.group)
        except _Missing:
            return None

    def ping(self) -> None:
        self._call("get_schedule_group", Name=self.group)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self.client, operation)(**params)
            return answer
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConflictException":
                raise _Exists() from exc
            if code == "ResourceNotFoundException" and operation != "create_schedule":
                raise _Missing() from exc
            raise UpstreamUnavailable(f"the scheduler refused {operation}: {code}") from exc
        except BotoCoreError as exc:
            raise UpstreamUnavailable("the scheduler cannot be reached") from exc


class _Exists(Exception):
    pass


class _Missing(Exception):
    pass
