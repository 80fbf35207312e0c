"""Moderation records: the per-Space log of who did what, reports, and personal blocks.

Every moderation action in a Space (chat mutes, deletions by a moderator, pins, microphone mutes,
removals) becomes a ``ModerationEntry`` the host can list. Reports go to the admins. A block is
personal: someone I block cannot join Spaces I host or co-host and cannot message me privately.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from pydantic import BaseModel

from chalicelib.domain.errors import Forbidden, field_error
from chalicelib.domain.text import clean_line

REASON_MAX = 500


class ModerationAction(str, Enum):
    chat_mute = "chat_mute"
    chat_unmute = "chat_unmute"
    message_delete = "message_delete"
    pin = "pin"
    unpin = "unpin"
    microphone_mute = "microphone_mute"
    remove = "remove"


class ModerationEntry(BaseModel):
    id: str
    space_id: str
    action: ModerationAction
    actor_id: str
    target_user_id: str | None = None
    message_id: str | None = None
    at: datetime


@dataclass(frozen=True)
class LogWrite:
    """A log entry to store in the same transaction as the action it records, so that the two
    cannot diverge: a failed write leaves neither (the retry writes both), a repeat that changes
    nothing writes neither. ``expires_at``: epoch seconds, when the log retention runs out."""

    entry: ModerationEntry
    expires_at: int


class Report(BaseModel):
    id: str
    space_id: str
    reporter_id: str
    user_id: str | None = None
    message_id: str | None = None
    message_text: str | None = None  # the reported message as it read (it may be deleted later)
    reason: str
    created_at: datetime


class Block(BaseModel):
    user_id: str
    blocked_user_id: str
    created_at: datetime


def entry_id(space_id: str, action: ModerationAction, actor_id: str, at: datetime, *,
             target_user_id: str | None = None, message_id: str | None = None) -> str:
    """The log entry's id, derived from the action's identity (who did what to whom, and when the
    action itself happened). A retried action (say a crash between the action and its log write)
    writes the same entry again instead of a second one."""
    identity = "\x1f".join((space_id, action.value, actor_id, target_user_id or "", message_id or "", at.isoformat()))
    return "ml_" + hashlib.sha256(identity.encode()).hexdigest()[:16]


def new_report_id() -> str:
    return "rp_" + secrets.token_hex(10)


def clean_reason(reason: str) -> str:
    cleaned = clean_line(reason)
    if not 1 <= len(cleaned) <= REASON_MAX:
        raise field_error("reason", f"must be 1 to {REASON_MAX} characters")
    return cleaned


def check_block(user_id: str, target: str) -> None:
    if user_id == target:
        raise Forbidden("you cannot block yourself")
