"""In-room messages, chat moderation, pins and reports: parse, call the service, answer."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.chat_schemas import MessageIn, MessageOut, MessagePage
from chalicelib.api.routing import Call, Reply, endpoint
from chalicelib.api.schemas import PageQuery
from chalicelib.container import get_container

bp = Blueprint(__name__)
TAG = "messages and moderation"


@endpoint(bp, "POST", "/v1/spaces/{space_id}/messages", tag=TAG, status=201, body=MessageIn, response=MessageOut,
          idempotent=True, errors=(400, 401, 403, 404, 409, 429, 503),
          summary="Send a message to everyone in the live Space, or privately to one person (delivered on "
                  "the data topic airwaves.chat)")
def send_message(call: Call, space_id: str) -> Reply:
    message = get_container().chat.send(call.user_id, space_id, call.body.text, call.body.to_user_id)
    return Reply(MessageOut.of(message), status=201)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/messages", tag=TAG, query=PageQuery, response=MessagePage,
          errors=(400, 401, 403, 404), summary="Recent messages, newest first (what the caller may see)")
def list_messages(call: Call, space_id: str) -> MessagePage:
    page = call.page(f"messages:{space_id}:{call.user_id}")
    found = get_container().chat.history(call.user_id, space_id, page.request)
    return MessagePage(items=[MessageOut.of(m) for m in found.items], next_cursor=page.next_cursor(found))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/messages/{message_id}", tag=TAG, status=204,
          errors=(401, 403, 404), summary="Delete a message (its author, the host or a co-host); clients are told "
                                          "on airwaves.chat with {\"deleted\": id}")
def delete_message(call: Call, space_id: str, message_id: str) -> Reply:
    get_container().chat.delete(call.user_id, space_id, message_id)
    return Reply(None, status=204)
