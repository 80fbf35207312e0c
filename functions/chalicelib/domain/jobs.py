"""The work queue's messages: one small JSON object each, with a ``kind``.

Work that can grow with an audience is split into pages: a message does one page (at most
``fanout_page_size`` followers or reminder holders) and enqueues the next with its position, so
no message does unbounded work and a host with a million followers is ten thousand small
messages, not one long Lambda.
"""
from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from chalicelib.domain.pages import Position


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
    cursor: Position = None


class UnfeedPage(BaseModel):
    kind: Literal["unfeed"] = "unfeed"
    space_id: str
    user_id: str
    cursor: Position = None


class RemindersPage(BaseModel):
    """One page of a Space's reminder holders gets the push of ``event``."""

    kind: Literal["reminders"] = "reminders"
    space_id: str
    event: Literal["starting", "live", "canceled"]
    cursor: Position = None


class PromotePage(BaseModel):
    """One page of a newly big account's followers learn to merge it at read time."""

    kind: Literal["promote"] = "promote"
    user_id: str
    cursor: Position = None


class RefundsPage(BaseModel):
    """One page of a canceled Space's tickets: paid ones refunded, pending holds released.
    The page's position is where the previous page stopped; a failed page is retried whole
    (tickets it already refunded are no longer ``paid``, so nothing is refunded twice)."""

    kind: Literal["refunds"] = "refunds"
    space_id: str
    cursor: Position = None


class SyncSchedules(BaseModel):
    """Retry of a schedule change that could not reach the scheduler on the request path."""

    kind: Literal["sync_schedules"] = "sync_schedules"
    space_id: str


Job = WentLive | RoleChanged | Ended | FollowersPage | UnfeedPage | RemindersPage | PromotePage | RefundsPage | SyncSchedules
@cache
def _job_adapter() -> TypeAdapter[Job]:
    """Built on first use: only the queue consumer parses jobs."""
    return TypeAdapter(Annotated[Job, Field(discriminator="kind")])


def parse_job(body: str) -> Job:
    """A queue message's body as its job (pydantic picks the class by ``kind``)."""
    return _job_adapter().validate_json(body)


def job_body(job: Job) -> str:
    return job.model_dump_json()
