"""``POST /v1/webhooks/livekit``: LiveKit's signed room events (presence, rooms that closed)."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.room_schemas import WebhookAckOut
from chalicelib.api.routing import Call, Caller, endpoint
from chalicelib.container import get_container

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/webhooks/livekit", caller=Caller.signature, tag="webhooks", auth=False, response=WebhookAckOut,
          signature_header="Authorization",
          summary="LiveKit room events; the signed token in Authorization is verified against the raw body",
          errors=(400, 401, 503), content_types=("application/webhook+json", "application/json"))
def livekit_webhook(call: Call) -> WebhookAckOut:
    return WebhookAckOut(outcome=get_container().media_events.receive(call.raw_body, call.headers.get("authorization")))
