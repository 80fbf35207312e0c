"""In-room messages: what a message may say, who sees it, who may delete it, how fast one may send.

Messages go through the API (checked, stored, then delivered by the media server's data API on
``airwaves.chat``); nobody publishes data from a client. A message with a recipient is private:
only its two parties ever receive or list it.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel

from chalicelib.domain.clock import to_rfc3339
from chalicelib.domain.errors import Forbidden, field_error
from chalicelib.domain.pages import JsonObject
from chalicelib.domain.roles import Member
from chalicelib.domain.spaces import Space
from chalicelib.domain.text import has_controls, has_visible, strip_invisible

TOPIC_CHAT = "airwaves.chat"
TEXT_MAX = 280
MESSAGE_LIMIT = 5  # messages per person per window, per Space
MESSAGE_WINDOW_SECONDS = 10
# Characters allowed although Unicode files them under "C" (control, format): line breaks, and
# the joiners emoji sequences are built from.


class Message(BaseModel):
    id: str
    space_id: str
    from_user_id: str
    to_user_id: str | None = None
    text: str
    created_at: datetime

    @property
    def private(self) -> bool:
        return self.to_user_id is not None

    @property
    def parties(self) -> list[str]:
        """Who receives it: everyone (empty) or just the sender and the recipient."""
        return [self.from_user_id, self.to_user_id] if self.to_user_id else []

    def visible_to(self, user_id: str) -> bool:
        return self.to_user_id is None or user_id in (self.from_user_id, self.to_user_id)

    def as_json(self) -> JsonObject:
        """The message as the contract writes it (the data packet's body too)."""
        return {"id": self.id, "space_id": self.space_id, "from_user_id": self.from_user_id,
                "to_user_id": self.to_user_id, "text": self.text, "created_at": to_rfc3339(self.created_at)}


def new_message_id(now: datetime) -> str:
    """``m`` + the time in milliseconds (12 hex digits) + 8 random hex digits: ids sort by time,
    so a Space's messages read newest first straight off the sort key."""
    return f"m{int(now.timestamp() * 1000):012x}{secrets.token_hex(4)}"


def clean_text(text: str) -> str:
    """Trimmed text of 1 to ``TEXT_MAX`` characters: control and bidi characters refused (line
    breaks are fine), other invisible ones removed; text with nothing visible counts as empty."""
    if has_controls(text, newlines=True):
        raise field_error("text", "must not contain control characters")
    cleaned = strip_invisible(text, keep_newlines=True).strip()
    if not has_visible(cleaned):
        raise field_error("text", "must not be empty")
    if len(cleaned) > TEXT_MAX:
        raise field_error("text", f"must be at most {TEXT_MAX} characters")
    return cleaned


def check_recipient(sender: str, recipient: str | None, *, known: bool) -> None:
    if recipient is None:
        return
    if recipient == sender:
        raise field_error("to_user_id", "cannot be yourself")
    if not known:
        raise field_error("to_user_id", "is not a known user")


def check_delete(space: Space, caller: str, message: Message) -> None:
    """The author, the host or a co-host may delete a message."""
    if caller != message.from_user_id and not space.can_moderate(caller):
        raise Forbidden("only the author, the host or a co-host can delete a message")


class SenderView(BaseModel):
    """What the send and history checks read in one round trip: the Space, the caller's member
    record and whether they are chat-muted there."""

    space: Space | None
    member: Member | None = None
    chat_muted: bool = False
