"""A scheduled Space's timers: when to remind the host, when it is due, when it is a no-show.

Pure rules: which one-time schedules a Space should have right now, their stable names and the
payload each carries. The payload repeats the planned start so a handler can tell a schedule that
belongs to an earlier plan (the Space was moved) from a current one and ignore it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from pydantic import AwareDatetime, BaseModel

from chalicelib.domain.spaces import Space, SpaceState


class ScheduleKind(str, Enum):
    reminder = "reminder"   # push to the host, ``reminder_lead`` before the start
    start = "start"         # push to the host and everyone with a reminder, at the start
    no_show = "no_show"     # cancel (and refund) when still not started ``no_show_after`` later


@dataclass(frozen=True)
class SchedulePolicy:
    reminder_lead: timedelta = timedelta(minutes=30)
    no_show_after: timedelta = timedelta(minutes=60)


class ScheduledInvocation(BaseModel):
    """What a schedule hands its target function."""

    kind: ScheduleKind
    space_id: str
    scheduled_start: AwareDatetime

    def matches(self, space: Space) -> bool:
        """Whether this invocation was planned for the Space's current start time."""
        return space.scheduled_start is not None and space.scheduled_start == self.scheduled_start


@dataclass(frozen=True)
class PlannedSchedule:
    kind: ScheduleKind
    name: str
    at: datetime
    invocation: ScheduledInvocation


def schedule_name(space_id: str, kind: ScheduleKind) -> str:
    """Stable per Space and kind (Scheduler names: 1-64 of ``[0-9A-Za-z_.-]``)."""
    return f"{space_id}.{kind.value}"


def fire_time(moment: datetime) -> datetime:
    """``at()`` has whole seconds: round up so a schedule never fires before its moment."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment


def plan(space: Space, policy: SchedulePolicy, now: datetime) -> list[PlannedSchedule]:
    """The schedules ``space`` should have now: none unless it is scheduled; the host's reminder
    only while its moment is still ahead."""
    if space.state is not SpaceState.scheduled or space.scheduled_start is None:
        return []
    start = space.scheduled_start
    moments = {
        ScheduleKind.reminder: start - policy.reminder_lead,
        ScheduleKind.start: start,
        ScheduleKind.no_show: start + policy.no_show_after,
    }
    return [
        PlannedSchedule(kind, schedule_name(space.id, kind), fire_time(at),
                        ScheduledInvocation(kind=kind, space_id=space.id, scheduled_start=start))
        for kind, at in moments.items()
        if kind is not ScheduleKind.reminder or at > now
    ]
