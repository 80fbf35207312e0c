"""Reminders on scheduled Spaces, and the caller's push devices."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.notification_schemas import DeviceIn, DeviceOut, ReminderOut
from chalicelib.api.routing import Call, Reply, endpoint
from chalicelib.container import get_container

bp = Blueprint(__name__)


@endpoint(bp, "PUT", "/v1/spaces/{space_id}/reminder", tag="reminders", response=ReminderOut,
          summary="Be notified when a scheduled Space starts (idempotent)", errors=(400, 401, 404, 409))
def set_reminder(call: Call, space_id: str) -> ReminderOut:
    space, on = get_container().reminders.set(call.user_id, space_id)
    return ReminderOut.of(space, on)


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/reminder", tag="reminders", response=ReminderOut,
          summary="Stop being notified about a Space (idempotent)", errors=(400, 401, 404))
def clear_reminder(call: Call, space_id: str) -> ReminderOut:
    space, on = get_container().reminders.clear(call.user_id, space_id)
    return ReminderOut.of(space, on)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/reminder", tag="reminders", response=ReminderOut,
          summary="Whether I set a reminder on a Space", errors=(400, 401, 404))
def get_reminder(call: Call, space_id: str) -> ReminderOut:
    space, on = get_container().reminders.status(call.user_id, space_id)
    return ReminderOut.of(space, on)


@endpoint(bp, "POST", "/v1/me/devices", tag="devices", body=DeviceIn, response=DeviceOut, status=201,
          creates=("device_id", "id"),
          idempotent=True, summary="Register a push target (201 new, 200 already registered)",
          errors=(400, 401, 429, 503), also=(200,))
def register_device(call: Call) -> Reply:
    b: DeviceIn = call.body
    device, created = get_container().devices.register(call.user_id, b.platform, b.token)
    return Reply(DeviceOut.of(device), status=201 if created else 200)


@endpoint(bp, "DELETE", "/v1/me/devices/{device_id}", tag="devices", status=204,
          summary="Stop pushes to a device (e.g. on sign-out)", errors=(400, 401, 404, 503))
def unregister_device(call: Call, device_id: str) -> Reply:
    get_container().devices.unregister(call.user_id, device_id)
    return Reply(None, status=204)
