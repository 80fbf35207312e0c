"""Request and response models of "In-room messages, moderation and sharing"."""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.api.schemas import Out, Request
from chalicelib.domain.chat import TEXT_MAX, Message

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
