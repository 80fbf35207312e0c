"""The fan-out queue's messages: one small JSON object each, with a ``kind``.

Work that can grow with an audience is split into pages: a message does one page (at most
``fanout_page_size`` followers or reminder holders) and enqueues the next with its position, so
no message does unbounded work and a host with a million followers is ten thousand small
messages, not one long Lambda.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class WentLive(BaseModel):
    """A Space went live: decide per person on stage how their followers learn of it."""

    kind: Literal["went_live"] = "went_live"
    space_id: str


class RoleChanged(BaseModel):
    kind: Literal["role_changed"] = "role_changed"
    space_id: str
    user_id: str
    role: str


class Ended(BaseModel):
    kind: Literal["ended"] = "ended"
    space_id: str


class FollowersPage(BaseModel):
    """One page of ``user_id``'s followers: feed entries (``feed``), pushes (``notify``)."""

    kind: Literal["followers"] = "followers"
    space_id: str
    user_id: str
    feed: bool
    notify: bool
    cursor: dict[str, Any] | None = None


class UnfeedPage(BaseModel):
    kind: Literal["unfeed"] = "unfeed"
    space_id: str
    user_id: str
    cursor: dict[str, Any] | None = None


class RemindersPage(BaseModel):
    """One page of a Space's reminder holders gets the push of ``event``."""

    kind: Literal["reminders"] = "reminders"
    space_id: str
    event: Literal["starting", "live", "canceled"]
    cursor: dict[str, Any] | None = None


class PromotePage(BaseModel):
    """One page of a newly big account's followers learn to merge it at read time."""

    kind: Literal["promote"] = "promote"
    user_id: str
    cursor: dict[str, Any] | None = None


class RefundsPage(BaseModel):
    """One page of a canceled Space's tickets: paid ones refunded, pending holds released.
    The page's position is where the previous page stopped; a failed page is retried whole
    (tickets it already refunded are no longer ``paid``, so nothing is refunded twice)."""

    kind: Literal["refunds"] = "refunds"
    space_id: str
    cursor: dict[str, Any] | None = None


class SyncSchedules(BaseModel):
    """Retry of a schedule change that could not reach the scheduler on the request path."""

    kind: Literal["sync_schedules"] = "sync_schedules"
    space_id: str


Job = Annotated[WentLive | RoleChanged | Ended | FollowersPage | UnfeedPage | RemindersPage | PromotePage | RefundsPage | SyncSchedules, Field(discriminator="kind")]
JOB = TypeAdapter(Job)


def parse_job(body: str) -> Any:
    return JOB.validate_json(body)


def dump(job: BaseModel) -> dict[str, Any]:
    return job.model_dump(mode="json")
