"""Request and response models of "In-room messages, moderation and sharing"."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.api.schemas import Out, Request, at_least_one_of, free_text
from chalicelib.domain.chat import TEXT_MAX, Message
from chalicelib.domain.moderation import REASON_MAX, Block, ModerationEntry, Report
from chalicelib.domain.pins import PIN_TEXT_MAX, PIN_URL_MAX
from chalicelib.domain.text import CONTROLS_BUT_NEWLINE_PATTERN, CONTROLS_PATTERN

USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
# a port of 1 to 65535 (leading zeros allowed), or none
_PORT = r"(?::(?:0*(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?|:)?"
_HOST = "[" + "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in "/?#@[]:") + "]+"
# ``domain.pins.clean_pin_url``: http(s), a host without user info or IPv6 literal, a valid port
PIN_URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss]?://{_HOST}{_PORT}(?:[/?#]|$)"


class MessageIn(Request):
    text: str = free_text(TEXT_MAX, "no control characters (line breaks are fine)", refused=CONTROLS_BUT_NEWLINE_PATTERN)
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
    reason: str = free_text(REASON_MAX, "why")


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
    model_config = ConfigDict(json_schema_extra=at_least_one_of("text", "url"))

    text: str | None = free_text(PIN_TEXT_MAX, "no control characters", refused=CONTROLS_PATTERN, default=None,
                                 examples=["House rules in the link"])
    url: str | None = Field(default=None, max_length=PIN_URL_MAX, pattern=PIN_URL_PATTERN,
                            json_schema_extra={"not": {"type": "string", "pattern": "[^!-~]"}},
                            description=f"an http or https URL naming an ASCII host (no user name or password), "
                                        f"at most {PIN_URL_MAX} characters")
