"""The feed's part of a Space's lifecycle: one work-queue job per event, nothing else.

Going live costs the request the same whatever the audience; ``feed_fanout.FeedFanout`` does the
work from the queue. A Space that has changed already is not turned into an error by a lost
notice, so a queue failure is logged, not raised.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain.jobs import Ended, Job, RemindersPage, RoleChanged, WentLive
from chalicelib.domain.spaces import Space
from chalicelib.ports import WorkQueue
from chalicelib.services.lifecycle import QuietParticipant

log = logging.getLogger(__name__)


@dataclass
class FeedEvents(QuietParticipant):
    queue: WorkQueue

    def after_start(self, space: Space) -> None:
        self._send(WentLive(space_id=space.id))

    def after_role_change(self, space: Space, user_id: str, role: str) -> None:
        self._send(RoleChanged(space_id=space.id, user_id=user_id, role=role))

    def after_end(self, space: Space) -> None:
        self._send(Ended(space_id=space.id))

    def after_cancel(self, space: Space) -> None:
        self._send(RemindersPage(space_id=space.id, event="canceled"))

    def _send(self, job: Job) -> None:
        try:
            self.queue.send([job])
        except Exception:
            log.exception("could not queue %s", job)
