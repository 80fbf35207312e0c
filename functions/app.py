"""The Airwaves Chalice app: registers the API blueprints and the contract's error handling.

Event handlers (webhooks, schedules, queues) register here too, each a thin entry that calls the
same services as the HTTP routes.
"""
from chalice import Chalice

from chalicelib.api.errors import contract_error_middleware
from chalicelib.api.routes import livekit_webhook, notifications, rooms, spaces, system, tickets, users
from chalicelib.container import get_container
from chalicelib.domain.schedules import ScheduleKind
from chalicelib.settings import get_settings

app = Chalice(app_name="airwaves")
app.register_middleware(contract_error_middleware, "http")
app.register_blueprint(system.bp)
app.register_blueprint(users.bp)
app.register_blueprint(spaces.bp)
app.register_blueprint(rooms.bp)
app.register_blueprint(livekit_webhook.bp)
app.register_blueprint(tickets.bp)
app.register_blueprint(notifications.bp)


# -- schedules and the fan-out queue: thin entries into the same services -----------------------
@app.lambda_function(name="space_reminder")
def space_reminder(event, context):
    """EventBridge Scheduler, 30 minutes before a scheduled Space: remind the host."""
    return get_container().scheduled_handlers.handle(event, ScheduleKind.reminder)


@app.lambda_function(name="space_start")
def space_start(event, context):
    """EventBridge Scheduler, at the planned start: tell the host and everyone with a reminder."""
    return get_container().scheduled_handlers.handle(event, ScheduleKind.start)


@app.lambda_function(name="space_no_show")
def space_no_show(event, context):
    """EventBridge Scheduler, when a Space has not started in time: cancel it (tickets refunded)."""
    return get_container().scheduled_handlers.handle(event, ScheduleKind.no_show)


@app.on_sqs_message(queue=get_settings().fanout_queue_name, batch_size=10, name="fanout")
def fanout(event):
    """SQS: go-live fan-out, feed entries, reminder pushes, refunds of a canceled Space's tickets,
    one bounded page per message."""
    get_container().fanout_consumer.handle_batch([(record.body, record.receipt_handle) for record in event])
