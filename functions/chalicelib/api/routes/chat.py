"""In-room messages, chat moderation, pins and reports: parse, call the service, answer."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.chat_schemas import (
    BlockedUserOut,
    BlockOut,
    BlockPage,
    ChatMuteOut,
    MessageIn,
    MessageOut,
    MessagePage,
    ModerationEntryOut,
    ModerationLogPage,
    PinIn,
    ReportIn,
    ReportOut,
    ReportPage,
)
from chalicelib.api.routing import Call, Caller, Reply, endpoint
from chalicelib.api.schemas import PageQuery, SpaceOut
from chalicelib.container import get_container

bp = Blueprint(__name__)
TAG = "messages and moderation"


@endpoint(bp, "POST", "/v1/spaces/{space_id}/messages", caller=Caller.audience, tag=TAG, status=201, creates=("message_id", "id"), body=MessageIn, response=MessageOut,
          idempotent=True, errors=(400, 401, 403, 404, 409, 429, 503),
          summary="Send a message to everyone in the live Space, or privately to one person (delivered on "
                  "the data topic airwaves.chat)")
def send_message(call: Call, space_id: str) -> Reply:
    message = get_container().chat.send(call.user_id, space_id, call.body.text, call.body.to_user_id)
    return Reply(MessageOut.of(message), status=201)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/messages", caller=Caller.audience, tag=TAG, query=PageQuery, response=MessagePage,
          errors=(400, 401, 403, 404), summary="Recent messages, newest first (what the caller may see)")
def list_messages(call: Call, space_id: str) -> MessagePage:
    page = call.page(f"messages:{space_id}:{call.user_id}")
    found = get_container().chat.history(call.user_id, space_id, page.request)
    return MessagePage(items=[MessageOut.of(m) for m in found.items], next_cursor=page.next_cursor(found))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/messages/{message_id}", caller=Caller.moderators, tag=TAG, status=204,
          errors=(401, 403, 404), summary="Delete a message (its author, the host or a co-host); clients are told "
                                          "on airwaves.chat with {\"deleted\": id}")
def delete_message(call: Call, space_id: str, message_id: str) -> Reply:
    get_container().chat.delete(call.user_id, space_id, message_id)
    return Reply(None, status=204)


# -- moderation ------------------------------------------------------------------------------
def _chat_mute(call: Call, space_id: str, user_id: str, muted: bool) -> ChatMuteOut:
    changed = get_container().chat.set_chat_mute(call.user_id, space_id, user_id, muted=muted)
    return ChatMuteOut(space_id=space_id, user_id=user_id, chat_muted=muted, changed=changed)


@endpoint(bp, "PUT", "/v1/spaces/{space_id}/chat-mutes/{user_id}", caller=Caller.moderators, tag=TAG, response=ChatMuteOut,
          errors=(401, 403, 404, 409), summary="Chat-mute someone: they still listen but cannot send messages "
                                               "(host or co-host)")
def chat_mute(call: Call, space_id: str, user_id: str) -> ChatMuteOut:
    return _chat_mute(call, space_id, user_id, True)


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/chat-mutes/{user_id}", caller=Caller.moderators, tag=TAG, response=ChatMuteOut,
          errors=(401, 403, 404, 409), summary="Let a chat-muted person send messages again (host or co-host)")
def chat_unmute(call: Call, space_id: str, user_id: str) -> ChatMuteOut:
    return _chat_mute(call, space_id, user_id, False)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/moderation-log", caller=Caller.host, tag=TAG, query=PageQuery, response=ModerationLogPage,
          errors=(400, 401, 403, 404), summary="Every moderation action in the Space, who did it and when, newest "
                                               "first (host only)")
def moderation_log(call: Call, space_id: str) -> ModerationLogPage:
    page = call.page(f"modlog:{space_id}")
    found = get_container().moderation_records.page(call.user_id, space_id, page.request)
    return ModerationLogPage(items=[ModerationEntryOut.of(e) for e in found.items], next_cursor=page.next_cursor(found))


# -- pins ------------------------------------------------------------------------------------
@endpoint(bp, "PUT", "/v1/spaces/{space_id}/pin", caller=Caller.moderators, tag=TAG, body=PinIn, response=SpaceOut,
          errors=(400, 401, 403, 404, 409), summary="Pin a short text and/or an http(s) link to the Space (host or "
                                                    "co-host); clients are told on airwaves.pin")
def pin(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    return SpaceOut.of(c.pins.pin(call.user_id, space_id, call.body.text, call.body.url),
                       engine=c.caption_engines.current())


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/pin", caller=Caller.moderators, tag=TAG, response=SpaceOut, errors=(401, 403, 404, 409),
          summary="Unpin (host or co-host); clients are told on airwaves.pin")
def unpin(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    return SpaceOut.of(c.pins.unpin(call.user_id, space_id), engine=c.caption_engines.current())


# -- reports ---------------------------------------------------------------------------------
@endpoint(bp, "POST", "/v1/reports", tag=TAG, status=201, body=ReportIn, response=ReportOut, idempotent=True,
          errors=(400, 401, 404), summary="Report a Space, a person in it or a message (anyone); admins read reports")
def report(call: Call) -> Reply:
    b = call.body
    made = get_container().reports.report(call.user_id, b.space_id, b.reason, user_id=b.user_id,
                                          message_id=b.message_id)
    return Reply(ReportOut.of(made), status=201)


@endpoint(bp, "GET", "/v1/admin/reports", tag=TAG, query=PageQuery, response=ReportPage, admin=True,
          errors=(400, 401, 403), summary="Every report, newest first (admin)")
def admin_reports(call: Call) -> ReportPage:
    page = call.page("reports")
    found = get_container().reports.page(page.request)
    return ReportPage(items=[ReportOut.of(r) for r in found.items], next_cursor=page.next_cursor(found))


# -- personal blocks -------------------------------------------------------------------------
@endpoint(bp, "PUT", "/v1/me/blocks/{user_id}", tag=TAG, response=BlockOut, errors=(400, 401, 403, 404),
          summary="Block someone: they cannot join Spaces you host or co-host (403 banned) nor message you "
                  "privately")
def block(call: Call, user_id: str) -> BlockOut:
    return BlockOut(user_id=user_id, blocked=True, changed=get_container().blocks.block(call.user_id, user_id))


@endpoint(bp, "DELETE", "/v1/me/blocks/{user_id}", tag=TAG, response=BlockOut, errors=(401,),
          summary="Unblock someone")
def unblock(call: Call, user_id: str) -> BlockOut:
    return BlockOut(user_id=user_id, blocked=False, changed=get_container().blocks.unblock(call.user_id, user_id))


@endpoint(bp, "GET", "/v1/me/blocks", tag=TAG, query=PageQuery, response=BlockPage, errors=(400, 401),
          summary="The people you block")
def blocks(call: Call) -> BlockPage:
    page = call.page(f"blocks:{call.user_id}")
    found = get_container().blocks.page(call.user_id, page.request)
    return BlockPage(items=[BlockedUserOut.of(b) for b in found.items], next_cursor=page.next_cursor(found))
