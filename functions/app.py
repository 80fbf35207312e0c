"""The Airwaves Chalice app: registers the API blueprints and the contract's error handling.

Event handlers (schedules, the work queue) register here too, each a thin entry that parses its
event and calls the same services as the HTTP routes.
"""
from typing import Any

from chalice.app import Chalice, SQSEvent

from chalicelib.api.cors import cors_middleware
from chalicelib.api.errors import contract_error_middleware
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

app = Chalice(app_name="airwaves")
app.register_middleware(cors_middleware, "http")  # outermost: every answer, errors included
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
def _scheduled(event: dict[str, Any], kind: ScheduleKind) -> dict[str, str]:
    outcome = get_container().scheduled_handlers.handle(ScheduledInvocation.model_validate(event), kind)
    return {"space_id": outcome.space_id, "done": outcome.done}


@app.lambda_function(name="space_reminder")
def space_reminder(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, 30 minutes before a scheduled Space: remind the host."""
    return _scheduled(event, ScheduleKind.reminder)


@app.lambda_function(name="space_start")
def space_start(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, at the planned start: tell the host and everyone with a reminder."""
    return _scheduled(event, ScheduleKind.start)


@app.lambda_function(name="space_no_show")
def space_no_show(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge Scheduler, when a Space has not started in time: cancel it (tickets refunded)."""
    return _scheduled(event, ScheduleKind.no_show)


@app.on_sqs_message(queue=get_settings().jobs_queue_name, batch_size=10, name="background_jobs")
def background_jobs(event: SQSEvent) -> None:
    """SQS: background jobs (go-live fan-out, feed entries, reminder pushes, refunds of a canceled
    Space's tickets, schedule syncs), one bounded page per message."""
    from chalicelib.services.background_jobs import QueueMessage

    get_container().job_batches.handle([QueueMessage(record.body, record.receipt_handle) for record in event])
