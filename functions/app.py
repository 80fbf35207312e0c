"""The Airwaves Chalice app: registers the API blueprints and the contract's error handling.

Event handlers (schedules, the work queue) register here too, each a thin entry that parses its
event and calls the same services as the HTTP routes.
"""
import re
from typing import Any

from chalice.app import Chalice, SQSEvent

from chalicelib.api.cors import cors_middleware
from chalicelib.api.errors import contract_error_middleware
from chalicelib.api.request_log import request_log_middleware
from chalicelib.api.routes import (
    chat,
    livekit_webhook,
    media,
    notifications,
    rooms,
    share,
    spaces,
    system,
    tickets,
    users,
)
from chalicelib.container import get_container
from chalicelib.domain.schedules import ScheduledInvocation, ScheduleKind
from chalicelib.settings import get_settings

# Logs are Powertools' JSON lines (chalicelib/logs.py), Chalice's own included: no plain handler.
app = Chalice(app_name="airwaves", configure_logs=False)
app.register_middleware(request_log_middleware, "http")  # outermost: one line per answer, its id on it
app.register_middleware(cors_middleware, "http")  # every answer, errors included
app.register_middleware(contract_error_middleware, "http")
app.register_blueprint(system.bp)
app.register_blueprint(users.bp)
app.register_blueprint(spaces.bp)
app.register_blueprint(rooms.bp)
app.register_blueprint(chat.bp)
app.register_blueprint(share.bp)
app.register_blueprint(livekit_webhook.bp)
app.register_blueprint(tickets.bp)
app.register_blueprint(notifications.bp)
app.register_blueprint(media.bp)


# -- schedules and the work queue: thin entries into the same services --------------------------
_EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _scheduled(event: dict[str, Any], context: Any, kind: ScheduleKind) -> dict[str, str]:
    """One scheduled invocation, logged under Scheduler's execution id (else Lambda's request id)."""
    c = get_container()
    execution = event.get("execution_id") if isinstance(event, dict) else None
    invocation_id = execution if isinstance(execution, str) and _EXECUTION_ID.match(execution) else getattr(
        context, "aws_request_id", None)
    with c.event_log.handling("scheduler", invocation_id) as handled:
        handled.of_kind(kind.value)
        outcome = c.scheduled_handlers.handle(ScheduledInvocation.model_validate(event), kind)
        handled.outcome(outcome.done)
    return {"space_id": outcome.space_id, "done": outcome.done}


@app.lambda_function(name="space_reminder")
def space_reminder(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, 30 minutes before a scheduled Space: remind the host."""
    return _scheduled(event, context, ScheduleKind.reminder)


@app.lambda_function(name="space_start")
def space_start(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, at the planned start: tell the host and everyone with a reminder."""
    return _scheduled(event, context, ScheduleKind.start)


@app.lambda_function(name="space_no_show")
def space_no_show(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, when a Space has not started in time: cancel it (tickets refunded)."""
    return _scheduled(event, context, ScheduleKind.no_show)


@app.on_sqs_message(queue=get_settings().jobs_queue_name, batch_size=10, name="background_jobs")
def background_jobs(event: SQSEvent) -> None:
    """SQS: background jobs (go-live fan-out, feed entries, reminder pushes, refunds of a canceled
    Space's tickets, schedule syncs), one bounded page per message."""
    from chalicelib.services.background_jobs import QueueMessage

    get_container().job_batches.handle([QueueMessage(record.body, record.receipt_handle, **_sqs_fields(record.to_dict()))
                                        for record in event])


def _sqs_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The message's id (its log correlation id) and when it was sent (its lag when handled)."""
    sent = (record.get("attributes") or {}).get("SentTimestamp")
    return {"message_id": str(record.get("messageId") or ""),
            "sent_at_ms": int(sent) if isinstance(sent, str | int) and str(sent).isdigit() else None}
