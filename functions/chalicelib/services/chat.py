"""In-room messages: checked and stored here, then delivered by the media server's data API.

Sending: the text is cleaned, the sender must be admitted to the live Space (not banned, a
ticket where one is needed) and not chat-muted, a private recipient must be a known user, and
the per-person rate holds. The message is stored first (so history never misses a delivered
message) and delivered on ``airwaves.chat`` to everyone, or only to its two parties; if the
media server cannot deliver it, it is taken back out and the caller gets 503.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain.chat import (
    MESSAGE_LIMIT,
    MESSAGE_WINDOW_SECONDS,
    TOPIC_CHAT,
    Message,
    SenderView,
    check_delete,
    check_recipient,
    clean_text,
    new_message_id,
)
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import (
    Banned,
    ChatMuted,
    Forbidden,
    NotFound,
    RateLimited,
    TicketRequired,
    UpstreamUnavailable,
)
from chalicelib.domain.moderation import ModerationAction
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.roles import check_moderate, needs_ticket, rate_window, role_of
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BlockList, MediaServer, MessageRepository, RateLimiter, TicketGate, UserRepository
from chalicelib.services.joins import JoinService
from chalicelib.services.safety import ModerationRecords

log = logging.getLogger(__name__)


@dataclass
class ChatService:
    messages: MessageRepository
    users: UserRepository
    media: MediaServer
    limits: RateLimiter
    joins: JoinService
    tickets: TicketGate
    blocks: BlockList
    records: ModerationRecords
    retention: timedelta

    def send(self, caller: str, space_id: str, text: str, to_user_id: str | None = None) -> Message:
        text = clean_text(text)
        check_recipient(caller, to_user_id, known=True)
        view = self.messages.sender_view(space_id, caller)
        space = self._space(view, space_id)
        self.joins.admit(space, caller, view.member)
        if view.chat_muted:
            raise ChatMuted("a host muted your messages in this Space; you can still listen")
        if to_user_id is not None:
            check_recipient(caller, to_user_id, known=self.users.get(to_user_id) is not None)
            if self.blocks.blockers_among(caller, [to_user_id]):
                raise Forbidden("this person does not accept private messages from you")
        self._take_rate(space.id, caller)
        now = utcnow()
        message = Message(id=new_message_id(now), space_id=space.id, from_user_id=caller, to_user_id=to_user_id,
                          text=text, created_at=now)
        self.messages.add(message, expires_at=int((now + self.retention).timestamp()))
        try:
            self.media.send_data(space.id, TOPIC_CHAT, message.as_json(), to=message.parties or None)
        except UpstreamUnavailable:
            self.messages.remove(space.id, message.id)
            raise
        return message

    def history(self, caller: str, space_id: str, page: PageRequest) -> Page[Message]:
        """Newest first, what the caller may read; the same people as may join may read (in any
        state: a Space that ended keeps its history until the retention runs out)."""
        view = self.messages.sender_view(space_id, caller)
        space = self._space(view, space_id)
        if view.member is not None and view.member.banned:
            raise Banned("you were removed from this Space")
        if needs_ticket(space, role_of(space, caller)) and not self.tickets.has_paid_ticket(space.id, caller):
            raise TicketRequired("this Space is ticketed: buy a ticket to read its messages",
                                 details={"space_id": space.id})
        return self.messages.visible_page(space.id, caller, page)

    def delete(self, caller: str, space_id: str, message_id: str) -> Message:
        """Delete a message (its author, the host or a co-host) and tell the clients that had it. A
        moderator's deletion is logged in the same transaction, so the two cannot diverge."""
        view = self.messages.sender_view(space_id, caller)
        space = self._space(view, space_id)
        message = self.messages.get(space.id, message_id)
        if message is None or not (message.visible_to(caller) or space.can_moderate(caller)):
            raise NotFound(f"no message {message_id} in this Space")
        check_delete(space, caller, message)
        entry = None if caller == message.from_user_id else self.records.entry(
            space.id, ModerationAction.message_delete, caller, target=message.from_user_id, message_id=message.id)
        if not self.messages.remove(space.id, message.id, log=entry):
            raise NotFound(f"no message {message_id} in this Space")
        if space.state is SpaceState.live:
            try:
                self.media.send_data(space.id, TOPIC_CHAT, {"deleted": message.id}, to=message.parties or None)
            except UpstreamUnavailable:  # history is the truth: a client that missed it reloads without it
                log.warning("deletion notice for %s in %s not delivered", message.id, space.id)
        return message

    def set_chat_mute(self, caller: str, space_id: str, user_id: str, *, muted: bool) -> bool:
        """Chat-mute (or unmute) someone in the live Space (host or co-host; a co-host cannot mute
        the host or another co-host). They keep listening. False: it already was so. The log
        entry is written with the change (one transaction): a retry after a failure logs it once."""
        space = self._space(self.messages.sender_view(space_id, caller), space_id)
        check_moderate(space, caller, user_id, action="chat-muted")
        now = utcnow()
        entry = self.records.entry(space.id, ModerationAction.chat_mute if muted else ModerationAction.chat_unmute,
                                   caller, target=user_id, at=now)
        return self.messages.set_chat_mute(space.id, user_id, muted=muted, by=caller, now=now, log=entry)

    def _take_rate(self, space_id: str, caller: str) -> None:
        now = utcnow()
        window = rate_window(now, MESSAGE_WINDOW_SECONDS)
        if not self.limits.take(f"chat#{space_id}#{caller}", window_start=window,
                                window_seconds=MESSAGE_WINDOW_SECONDS, limit=MESSAGE_LIMIT):
            retry = max(1, window + MESSAGE_WINDOW_SECONDS - int(now.timestamp()))
            raise RateLimited(f"at most {MESSAGE_LIMIT} messages every {MESSAGE_WINDOW_SECONDS} seconds",
                              details={"limit": MESSAGE_LIMIT, "window_seconds": MESSAGE_WINDOW_SECONDS,
                                       "retry_after_seconds": retry})

    @staticmethod
    def _space(view: SenderView, space_id: str) -> Space:
        if view.space is None:
            raise NotFound(f"no Space {space_id}")
        return view.space
