"""Request and response models of "In-room messages, moderation and sharing"."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.schemas import Out, Request
from chalicelib.domain.chat import TEXT_MAX, Message
from chalicelib.domain.moderation import REASON_MAX, Block, ModerationEntry, Report
from chalicelib.domain.pins import PIN_TEXT_MAX, PIN_URL_MAX

USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"


class MessageIn(Request):
    text: str = Field(max_length=4 * TEXT_MAX, description=f"1 to {TEXT_MAX} characters after trimming, "
                                                           "no control characters (line breaks are fine)")
    to_user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN,
                                   description="set: a private message only you and this person receive and list")


class MessageOut(Out):
    id: str
    space_id: str
    from_user_id: str
    to_user_id: str | None = Field(description="null: to everyone in the Space")
    text: str
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(id=m.id, space_id=m.space_id, from_user_id=m.from_user_id, to_user_id=m.to_user_id, text=m.text,
                   created_at=m.created_at)


class MessagePage(Out):
    items: list[MessageOut] = Field(description="newest first; private messages only to their two parties")
    next_cursor: str | None


# -- moderation ------------------------------------------------------------------------------
class ChatMuteOut(Out):
    space_id: str
    user_id: str
    chat_muted: bool
    changed: bool = Field(description="false when it already was so")


class ModerationEntryOut(Out):
    id: str
    space_id: str
    action: Literal["chat_mute", "chat_unmute", "message_delete", "pin", "unpin", "microphone_mute", "remove"]
    actor_id: str = Field(description="who did it")
    target_user_id: str | None
    message_id: str | None
    at: datetime = Field(description="when")

    @classmethod
    def of(cls, e: ModerationEntry) -> ModerationEntryOut:
        return cls(id=e.id, space_id=e.space_id, action=e.action.value, actor_id=e.actor_id,
                   target_user_id=e.target_user_id, message_id=e.message_id, at=e.at)


class ModerationLogPage(Out):
    items: list[ModerationEntryOut] = Field(description="newest first")
    next_cursor: str | None


class ReportIn(Request):
    space_id: str = Field(pattern=USER_ID_PATTERN)
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN, description="who is reported")
    message_id: str | None = Field(default=None, pattern=USER_ID_PATTERN, description="which message is reported")
    reason: str = Field(max_length=4 * REASON_MAX, description=f"1 to {REASON_MAX} characters")


class ReportOut(Out):
    id: str
    space_id: str
    reporter_id: str
    user_id: str | None
    message_id: str | None
    message_text: str | None = Field(description="the reported message as it read when reported")
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, r: Report) -> ReportOut:
        return cls(**r.model_dump())


class ReportPage(Out):
    items: list[ReportOut] = Field(description="newest first")
    next_cursor: str | None


class BlockOut(Out):
    user_id: str = Field(description="the person blocked (or unblocked)")
    blocked: bool
    changed: bool = Field(description="false when it already was so")


class BlockedUserOut(Out):
    user_id: str
    blocked_at: datetime

    @classmethod
    def of(cls, b: Block) -> BlockedUserOut:
        return cls(user_id=b.blocked_user_id, blocked_at=b.created_at)


class BlockPage(Out):
    items: list[BlockedUserOut]
    next_cursor: str | None


# -- pins ------------------------------------------------------------------------------------
class PinIn(Request):
    text: str | None = Field(default=None, max_length=4 * PIN_TEXT_MAX, examples=["House rules in the link"],
                             description=f"1 to {PIN_TEXT_MAX} characters")
    url: str | None = Field(default=None, max_length=4 * PIN_URL_MAX,
                            description=f"an http or https URL with a host, at most {PIN_URL_MAX} characters")
