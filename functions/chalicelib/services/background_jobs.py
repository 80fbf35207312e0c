"""The work queue's consumer: which use case each job runs, and how a batch survives a failure.

Jobs (``domain/jobs.py``) go on the queue from requests that must answer fast (going live, a role
change, an end, a cancel with tickets to refund, a schedule change the scheduler refused) and from
jobs that do one page and queue the next. ``BackgroundJobs.run`` is the one table from job to use
case; ``JobBatch`` runs an SQS batch so one failing message does not fail the others.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import assert_never

from chalicelib.domain.jobs import (
    Ended,
    FollowersPage,
    Job,
    PromotePage,
    RefundsPage,
    RemindersPage,
    RoleChanged,
    SyncSchedules,
    UnfeedPage,
    WentLive,
    parse_job,
)
from chalicelib.domain.pages import PageRequest
from chalicelib.domain.telemetry import FAILED
from chalicelib.ports import EventLog, Metrics, SpaceRepository, WorkQueue
from chalicelib.services.feed_fanout import FeedFanout
from chalicelib.services.reminders import ReminderPushes
from chalicelib.services.schedules import SpaceSchedules
from chalicelib.services.tickets import TicketService

log = logging.getLogger(__name__)


@dataclass
class BackgroundJobs:
    feed: FeedFanout
    reminders: ReminderPushes
    tickets: TicketService
    schedules: SpaceSchedules
    spaces: SpaceRepository
    queue: WorkQueue
    refund_page_size: int = 5

    def run(self, job: Job) -> None:
        match job:
            case WentLive():
                self.feed.went_live(job)
            case RoleChanged():
                self.feed.role_changed(job)
            case Ended():
                self.feed.ended(job)
            case FollowersPage():
                self.feed.followers_page(job)
            case UnfeedPage():
                self.feed.unfeed_page(job)
            case PromotePage():
                self.feed.promote_page(job)
            case RemindersPage():
                self.reminders.reminders_page(job)
            case RefundsPage():
                self._refunds(job)
            case SyncSchedules():
                self._sync_schedules(job)
            case _:
                assert_never(job)

    def _refunds(self, job: RefundsPage) -> None:
        """One page of a canceled Space's refunds (``TicketService.refund_page``); a failure
        raises, so this message (not a next one) is retried from the same position."""
        after = self.tickets.refund_page(job.space_id, PageRequest(job.cursor, self.refund_page_size))
        if after:
            self.queue.send([job.model_copy(update={"cursor": after})])

    def _sync_schedules(self, job: SyncSchedules) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is not None:
            self.schedules.sync(space)


class BatchIncomplete(Exception):
    """Some messages of a batch failed: they go back to the queue (and, after a few deliveries,
    to its dead-letter queue); the ones that succeeded were deleted."""


@dataclass(frozen=True)
class QueueMessage:
    body: str
    receipt_handle: str
    message_id: str = ""
    sent_at_ms: int | None = None  # SQS's SentTimestamp: when the message was first sent


@dataclass
class JobBatch:
    """Runs a batch of queue messages, one failure not failing the others. Each message is one
    event in the logs (its SQS message id correlates its lines) and its age when handled is the
    queue's lag."""

    jobs: BackgroundJobs
    queue: WorkQueue
    metrics: Metrics = field(kw_only=True)
    events: EventLog = field(kw_only=True)
    clock_ms: Callable[[], float] = field(default=lambda: time.time() * 1000, kw_only=True)

    def handle(self, messages: Sequence[QueueMessage]) -> int:
        """Returns how many were done; raises ``BatchIncomplete`` when any failed."""
        done: list[str] = []
        failed = 0
        for message in messages:
            if message.sent_at_ms is not None:
                self.metrics.queue_lag((self.clock_ms() - message.sent_at_ms) / 1000)
            with self.events.handling("sqs", message.message_id or None) as handled:
                try:
                    job = parse_job(message.body)
                    handled.of_kind(job.kind)
                    self.jobs.run(job)
                    done.append(message.receipt_handle)
                except Exception:
                    log.exception("queue message failed: %s", message.body[:500])
                    handled.outcome(FAILED)
                    failed += 1
        if failed:
            # Without partial batch responses Lambda retries the whole batch when we raise, so
            # the messages that succeeded are deleted now and only the failed ones come back.
            if done:
                self.queue.delete(done)
            raise BatchIncomplete(f"{failed} of {len(messages)} queue message(s) failed")
        return len(done)
