"""Reminders: "tell me when this scheduled Space starts", and the pushes to their holders."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain import notifications
from chalicelib.domain.clock import utcnow
from chalicelib.domain.jobs import RemindersPage
from chalicelib.domain.pages import PageRequest
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import ReminderRepository, SpaceRepository, UserRepository, WorkQueue
from chalicelib.services.notifications import Notifier

# The state a Space must still be in for each reminder push to be news.
_WANTED_STATE = {"starting": SpaceState.scheduled, "live": SpaceState.live, "canceled": SpaceState.canceled}


@dataclass
class ReminderService:
    reminders: ReminderRepository
    spaces: SpaceRepository

    def set(self, user_id: str, space_id: str) -> tuple[Space, bool]:
        """Idempotent: a repeat changes nothing. Returns the Space (fresh count) and the state."""
        self.spaces.require(space_id)
        self.reminders.add(space_id, user_id, utcnow())
        return self.spaces.require(space_id, consistent=True), True

    def clear(self, user_id: str, space_id: str) -> tuple[Space, bool]:
        self.spaces.require(space_id)
        self.reminders.remove(space_id, user_id)
        return self.spaces.require(space_id, consistent=True), False

    def status(self, user_id: str, space_id: str) -> tuple[Space, bool]:
        space = self.spaces.require(space_id)
        return space, self.reminders.has(space_id, user_id)


@dataclass
class ReminderPushes:
    """One page of a Space's reminder holders gets the push of the job's event (a queue job)."""

    reminders: ReminderRepository
    spaces: SpaceRepository
    users: UserRepository
    notifier: Notifier
    queue: WorkQueue
    page_size: int = 100

    def reminders_page(self, job: RemindersPage) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None or space.state is not _WANTED_STATE[job.event]:
            return  # the news is stale (e.g. "starting" after it went live)
        holders = self.reminders.holders_page(space.id, PageRequest(job.cursor, self.page_size))
        if job.event == "live":
            host = self.users.get(space.host_id)
            message = notifications.space_live(space, host.display_name if host else "Someone")
        elif job.event == "starting":
            message = notifications.space_starting(space)
        else:
            message = notifications.space_canceled(space)
        self.notifier.send(holders.items, message)
        if holders.next:
            self.queue.send([job.model_copy(update={"cursor": holders.next})])
