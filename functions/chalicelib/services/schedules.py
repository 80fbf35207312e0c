"""A scheduled Space's timers, kept in step with the Space, and what each does when it fires.

``SpaceSchedules`` is a lifecycle part: whenever a Space is created, moved, started or canceled it
makes the scheduler hold exactly the schedules ``domain.schedules.plan`` says (reconciling, so the
order of calls does not matter). When the scheduler cannot be reached on a request, the same
reconciliation is queued instead of failing the request.

``ScheduledHandlers`` is what the three target functions run (one method per ``ScheduleKind``).
Each acts only when the Space is still in the state and at the start time it was planned for, so
a late or repeated invocation (Scheduler delivers at least once) does nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain import notifications
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.jobs import RemindersPage, SyncSchedules
from chalicelib.domain.schedules import ScheduledInvocation, ScheduleKind, SchedulePolicy, plan, schedule_name
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import Scheduler, SpaceRepository, WorkQueue
from chalicelib.services.lifecycle import QuietParticipant
from chalicelib.services.notifications import Notifier
from chalicelib.services.spaces import SpaceService

log = logging.getLogger(__name__)


@dataclass
class SpaceSchedules(QuietParticipant):
    scheduler: Scheduler
    targets: dict[ScheduleKind, str]
    policy: SchedulePolicy
    queue: WorkQueue

    def after_create(self, space: Space) -> None:
        self._sync_or_defer(space)

    def after_reschedule(self, before: Space, after: Space) -> None:
        self._sync_or_defer(after)

    def after_cancel(self, space: Space) -> None:
        self._sync_or_defer(space)

    def after_start(self, space: Space) -> None:
        if space.scheduled_start is not None:  # a Space opened live never had schedules
            self._sync_or_defer(space)

    def sync(self, space: Space) -> None:
        """Make the scheduler hold exactly the schedules ``space`` should have now."""
        if not self.scheduler.configured:
            log.warning("scheduler not configured; no schedules for %s", space.id)
            return
        now = utcnow()
        wanted = {p.kind: p for p in plan(space, self.policy, now)}
        for kind in ScheduleKind:
            if kind in wanted:
                planned = wanted[kind]
                self.scheduler.put(planned.name, planned.at, self.targets[kind], planned.invocation)
            elif space.state is SpaceState.scheduled or not self._has_fired(space, kind, now):
                self.scheduler.delete(schedule_name(space.id, kind))  # e.g. a reminder from an earlier plan

    def _has_fired(self, space: Space, kind: ScheduleKind, now: datetime) -> bool:
        """Once a Space is past scheduling, a schedule whose moment has passed has run (or is
        running: the no-show canceling this very Space, whose retries must not be cut off); it
        deletes itself when done."""
        if space.scheduled_start is None:
            return True
        moment = {ScheduleKind.reminder: space.scheduled_start - self.policy.reminder_lead,
                  ScheduleKind.start: space.scheduled_start,
                  ScheduleKind.no_show: space.scheduled_start + self.policy.no_show_after}[kind]
        return moment <= now

    def _sync_or_defer(self, space: Space) -> None:
        try:
            self.sync(space)
        except UpstreamUnavailable:
            log.warning("scheduler unavailable; queueing the schedule sync of %s", space.id)
            try:
                self.queue.send([SyncSchedules(space_id=space.id)])
            except UpstreamUnavailable:
                # The Space is stored already; failing the request now would only invite a
                # duplicate. Loud, so an operator can re-sync it.
                log.error("schedules of %s are out of date: scheduler and queue both unavailable", space.id)


@dataclass(frozen=True)
class ScheduleOutcome:
    space_id: str
    done: str


@dataclass
class ScheduledHandlers:
    spaces: SpaceRepository
    space_service: SpaceService  # cancels as the system (refunding tickets)
    notifier: Notifier
    queue: WorkQueue
    policy: SchedulePolicy

    def handle(self, invocation: ScheduledInvocation, expected: ScheduleKind) -> ScheduleOutcome:
        if invocation.kind is not expected:
            raise ValueError(f"{expected.value} handler got a {invocation.kind.value} invocation")
        space = self.spaces.get(invocation.space_id, consistent=True)
        if space is None or not invocation.matches(space):
            return ScheduleOutcome(invocation.space_id, "nothing (stale schedule)")
        match expected:
            case ScheduleKind.reminder:
                done = self._reminder(space)
            case ScheduleKind.start:
                done = self._start(space)
            case ScheduleKind.no_show:
                done = self._no_show(space)
        return ScheduleOutcome(space.id, done)

    def _reminder(self, space: Space) -> str:
        if space.state is not SpaceState.scheduled:
            return f"nothing ({space.state.value})"
        minutes = int(self.policy.reminder_lead.total_seconds() // 60)
        sent = self.notifier.send([space.host_id], notifications.host_reminder(space, minutes))
        return f"reminded the host ({sent} device(s))"

    def _start(self, space: Space) -> str:
        if space.state is not SpaceState.scheduled:
            return f"nothing ({space.state.value})"
        sent = self.notifier.send([space.host_id], notifications.host_start_now(space))
        self.queue.send([RemindersPage(space_id=space.id, event="starting")])
        return f"told the host ({sent} device(s)); queued reminder pushes"

    def _no_show(self, space: Space) -> str:
        # A canceled Space is canceled again: a retry after refunds stopped midway resumes them.
        if space.state not in (SpaceState.scheduled, SpaceState.canceled):
            return f"nothing ({space.state.value})"
        self.space_service.cancel(None, space.id)
        return "canceled (no-show)"
