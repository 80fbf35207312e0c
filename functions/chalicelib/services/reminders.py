"""Reminders: "tell me when this scheduled Space starts"."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.clock import utcnow
from chalicelib.domain.spaces import Space
from chalicelib.ports import ReminderRepository, SpaceRepository


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
