"""The local stand-in for EventBridge Scheduler and the SQS -> Lambda poller.

``make up`` has no AWS: this module provisions the work queue (with its dead-letter queue), the
schedule group and the SNS platform applications in moto, and runs a loop that
- fires every schedule whose ``at(...)`` time has come by calling the Chalice function its target
  ARN names (``...:function:<app>-<stage>-<name>``) with the schedule's payload, then deletes it
  (``ActionAfterCompletion=DELETE``); a failing one is retried, then dead-lettered, like Scheduler;
- drains the queue in batches of up to ten into the ``@app.on_sqs_message`` handler, deleting a
  batch only when the handler returns (Lambda's contract), so failed messages come back and,
  after the queue's ``maxReceiveCount``, land in the dead-letter queue.
Tests use the same ``LocalRunner`` to drive the flow deterministically.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

log = logging.getLogger("airwaves.local.runner")

MAX_RECEIVES = 5                # deliveries before a message moves to the dead-letter queue
LOCAL_VISIBILITY_SECONDS = 5    # how soon a failed message is retried locally
SCHEDULE_ATTEMPTS = 3           # local invocations of a failing schedule before dead-lettering it
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


def _settings():
    from chalicelib.settings import get_settings

    return get_settings()


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=_settings().aws_region)


# -- provisioning (moto) -----------------------------------------------------------------------
def provision() -> None:
    """Create the queues, the schedule group and the push applications the local stage names."""
    s = _settings()
    sqs = _client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{s.jobs_queue_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=s.jobs_queue_name, Attributes={
        "VisibilityTimeout": str(LOCAL_VISIBILITY_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}),
    })
    if s.schedule_dead_letter_arn:
        sqs.create_queue(QueueName=s.schedule_dead_letter_arn.rsplit(":", 1)[-1])
    scheduler = _client("scheduler")
    groups = {g["Name"] for g in scheduler.list_schedule_groups().get("ScheduleGroups", [])}
    if s.schedule_group not in groups:
        scheduler.create_schedule_group(Name=s.schedule_group)
    sns = _client("sns")
    for arn in (s.apns_platform_application_arn, s.fcm_platform_application_arn):
        if arn:
            platform, name = arn.split(":app/", 1)[1].split("/", 1)
            sns.create_platform_application(Name=name, Platform=platform,
                                            Attributes={"PlatformCredential": "dev-only-local-credential"})


# -- the runner ----------------------------------------------------------------------------------
class LocalRunner:
    """Fires due schedules and drains the work queue into the app's own handlers."""

    def __init__(self, app_module: ModuleType | None = None) -> None:
        self._module = app_module
        self._attempts: dict[str, int] = {}

    @property
    def module(self) -> ModuleType:
        if self._module is None:
            import app as app_module  # the Chalice app in functions/ (on sys.path)

            self._module = app_module
        return self._module

    def _handler(self, handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
        return getattr(self.module, handler_string.rsplit(".", 1)[-1])

    def function_for(self, target_arn: str) -> Callable[[dict[str, Any], Any], Any]:
        """The ``@app.lambda_function`` a target ARN names (Chalice deploys ``<app>-<stage>-<name>``)."""
        function_name = target_arn.rsplit(":", 1)[-1]
        for fn in self.module.app.pure_lambda_functions:
            if function_name == fn.name or function_name.endswith(f"-{fn.name}"):
                return self._handler(fn.handler_string)
        raise LookupError(f"no Chalice function for {target_arn}")

    def queue_handler(self, queue_name: str) -> Callable[[dict[str, Any], Any], Any]:
        for source in self.module.app.event_sources:
            if getattr(source, "queue", None) == queue_name:
                return self._handler(source.handler_string)
        raise LookupError(f"no @app.on_sqs_message for {queue_name}")

    # -- schedules -------------------------------------------------------------------------
    def due_schedules(self, now: datetime) -> list[dict[str, Any]]:
        scheduler = _client("scheduler")
        group = _settings().schedule_group
        due, token = [], None
        while True:
            page = scheduler.list_schedules(GroupName=group, **({"NextToken": token} if token else {}))
            for summary in page.get("Schedules", []):
                schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
                moment = _AT.match(schedule["ScheduleExpression"])
                if moment and datetime.fromisoformat(moment.group(1)).replace(tzinfo=UTC) <= now:
                    due.append(schedule)
            token = page.get("NextToken")
            if not token:
                return sorted(due, key=lambda s: s["ScheduleExpression"])

    def fire_due(self, now: datetime | None = None) -> list[tuple[str, Any]]:
        """Invoke every due schedule's target once; returns ``(name, result or error)``."""
        now = now or datetime.now(UTC)
        scheduler = _client("scheduler")
        fired: list[tuple[str, Any]] = []
        for schedule in self.due_schedules(now):
            name, target = schedule["Name"], schedule["Target"]
            try:
                result = self.function_for(target["Arn"])(json.loads(target.get("Input") or "{}"), None)
            except Exception as exc:
                log.exception("schedule %s failed", name)
                self._attempts[name] = self._attempts.get(name, 0) + 1
                fired.append((name, exc))
                if self._attempts[name] < SCHEDULE_ATTEMPTS:
                    continue
                self._dead_letter_schedule(schedule, exc)
            else:
                log.info("fired schedule %s: %s", name, result)
                fired.append((name, result))
            self._attempts.pop(name, None)
            try:
                scheduler.delete_schedule(GroupName=schedule["GroupName"], Name=name)
            except Exception:  # noqa: BLE001 - replaced or deleted meanwhile
                pass
        return fired

    def _dead_letter_schedule(self, schedule: dict[str, Any], exc: Exception) -> None:
        arn = (schedule["Target"].get("DeadLetterConfig") or {}).get("Arn")
        if not arn:
            return
        sqs = _client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=schedule["Target"].get("Input") or "{}",
                         MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": str(exc)[:256]}})

    # -- the queue -------------------------------------------------------------------------
    def drain(self, *, max_batches: int = 1000, visibility_timeout: int | None = None) -> int:
        """Feed queued messages to the consumer until the queue is empty (or ``max_batches``);
        returns how many messages were handled successfully."""
        s = _settings()
        sqs = _client("sqs")
        url = sqs.get_queue_url(QueueName=s.jobs_queue_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        handler = self.queue_handler(s.jobs_queue_name)
        handled = 0
        for _ in range(max_batches):
            params: dict[str, Any] = {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0,
                                      "AttributeNames": ["All"]}
            if visibility_timeout is not None:
                params["VisibilityTimeout"] = visibility_timeout
            messages = sqs.receive_message(**params).get("Messages", [])
            if not messages:
                break
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": s.aws_region,
            } for m in messages]}
            try:
                handler(event, None)
            except Exception:
                log.warning("a queue batch failed; its failed messages will be retried", exc_info=True)
                continue
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
            handled += len(messages)
        if handled:
            log.info("handled %d queue message(s)", handled)
        return handled

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """The ``make up`` loop."""
        while not stop.is_set():
            try:
                self.fire_due()
                self.drain(max_batches=100)
            except Exception:
                log.exception("local schedule/queue runner pass failed")
            stop.wait(interval)


def run_loop(stop: threading.Event) -> None:
    """Registered in ``LOOPS``: what fired and what failed is printed, nothing else."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[runner] %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # The runner asks the emulator something every second; its request log would drown the rest.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    LocalRunner().run(stop)


def register() -> None:
    from infra.local.stack import LOOPS, PROVISIONERS

    if provision not in PROVISIONERS:
        PROVISIONERS.append(provision)
    if run_loop not in LOOPS:
        LOOPS.append(run_loop)


register()
