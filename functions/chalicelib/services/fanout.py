"""The fan-out worker: what each queue message does, one bounded page at a time.

Who learns that a Space is live, per person on its stage:
- an ordinary account (fewer than ``big_host_followers`` followers): each follower gets a feed
  entry (fan-out on write);
- a big account: nothing per follower; the Space goes into the account's live index, and readers
  merge it in (``feed.FollowingFeed``). The first time an account is seen big it is *promoting*:
  it is fanned out like an ordinary one while a job adds it to each follower's list of big
  accounts, then it is big for good (no flapping around the threshold).
The host's followers also get a push, whatever the host's size; reminder holders get theirs
when the Space is due, goes live or is canceled. A canceled ticketed Space's tickets are
refunded here too, a page of ``refund_page_size`` tickets per message.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import notifications
from chalicelib.domain.feed import FEED_ROLES, on_stage
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BigAccounts, FeedEntries, ReminderRepository, SpaceRepository, UserRepository, WorkQueue

from . import jobs
from .jobs import (
    Ended,
    FollowersPage,
    PromotePage,
    RefundsPage,
    RemindersPage,
    RoleChanged,
    SyncSchedules,
    UnfeedPage,
    WentLive,
    dump,
)
from .notifications import Notifier

log = logging.getLogger(__name__)

ORDINARY, PROMOTING, BIG = "ordinary", "promoting", "big"


@dataclass
class FanoutWorker:
    spaces: SpaceRepository
    users: UserRepository
    feed: FeedEntries
    big: BigAccounts
    reminders: ReminderRepository
    notifier: Notifier
    queue: WorkQueue
    sync_schedules: Callable[[Space], None]
    refund_page: Callable[[str, dict[str, Any] | None], dict[str, Any] | None]
    big_threshold: int
    page_size: int = 100

    def handle(self, job: Any) -> None:
        getattr(self, f"_{job.kind}")(job)

    def handle_body(self, body: str) -> None:
        self.handle(jobs.parse_job(body))

    # -- a Space goes live, someone joins or leaves the stage, the Space ends ----------------
    def _went_live(self, job: WentLive) -> None:
        space = self._live(job.space_id)
        if space is None:
            return
        follow_up: list[dict[str, Any]] = []
        modes = self._modes(sorted(on_stage(space)))
        for user_id, mode in modes.items():
            follow_up += self._spread(space, user_id, mode, notify=user_id == space.host_id)
        if space.scheduled_start is not None:
            follow_up.append(dump(RemindersPage(space_id=space.id, event="live")))
        self.queue.send(follow_up)

    def _role_changed(self, job: RoleChanged) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None:
            return
        on = space.state is SpaceState.live and job.user_id in on_stage(space) and job.role in FEED_ROLES
        if on:
            mode = self._modes([job.user_id])[job.user_id]
            self.queue.send(self._spread(space, job.user_id, mode, notify=False))
        elif self.big.modes([job.user_id]):
            # Off the stage: readers already ignore entries via people not on stage; the big index
            # forgets it now, and fanned entries go when the Space ends.
            self.big.unindex_live(space, job.user_id)

    def _ended(self, job: Ended) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None:
            return
        for user_id in self.big.modes(sorted(on_stage(space))):
            self.big.unindex_live(space, user_id)
        self.queue.send([dump(UnfeedPage(space_id=space.id, user_id=u)) for u in sorted(self.big.fanned(space.id))])

    def _spread(self, space: Space, user_id: str, mode: str, *, notify: bool) -> list[dict[str, Any]]:
        """Index a big account now; return the page jobs that reach ``user_id``'s followers."""
        if mode in (PROMOTING, BIG):
            self.big.index_live(space, user_id)
        feed = mode != BIG
        if feed:
            self.big.note_fanned(space.id, user_id)
        if not (feed or notify):
            return []
        return [dump(FollowersPage(space_id=space.id, user_id=user_id, feed=feed, notify=notify))]

    def _modes(self, user_ids: list[str]) -> dict[str, str]:
        """Each person's feed mode; an ordinary account that has grown big starts its promotion."""
        known = self.big.modes(user_ids)
        modes = {u: known.get(u, ORDINARY) for u in user_ids}
        ordinary = [u for u, m in modes.items() if m == ORDINARY]
        for user in self.users.get_many(ordinary) if ordinary else []:
            if user.follower_count >= self.big_threshold and self.big.begin_promotion(user.id):
                self.queue.send([dump(PromotePage(user_id=user.id))])
                modes[user.id] = PROMOTING
        return modes

    # -- pages -------------------------------------------------------------------------------
    def _followers(self, job: FollowersPage) -> None:
        space = self._live(job.space_id)
        if space is None:
            return  # ended meanwhile: the rest of the audience has nothing to join
        feed = job.feed and job.user_id in on_stage(space)
        if not (feed or job.notify):
            return  # left the stage before their followers were all reached
        followers, after = self.users.followers_page(job.user_id, job.cursor, self.page_size)
        if feed:
            self.feed.add(space, job.user_id, followers)
        if job.notify:
            host = self.users.get(space.host_id)
            self.notifier.send(followers, notifications.space_live(space, host.display_name if host else "Someone"))
        if after:
            self.queue.send([dump(job.model_copy(update={"cursor": after}))])

    def _unfeed(self, job: UnfeedPage) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None or space.state is SpaceState.live:
            return
        followers, after = self.users.followers_page(job.user_id, job.cursor, self.page_size)
        self.feed.remove(space, followers)
        if after:
            self.queue.send([dump(job.model_copy(update={"cursor": after}))])

    def _reminders(self, job: RemindersPage) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None:
            return
        wanted = {"starting": SpaceState.scheduled, "live": SpaceState.live, "canceled": SpaceState.canceled}
        if space.state is not wanted[job.event]:
            return  # the news is stale (e.g. "starting" after it went live)
        holders, after = self.reminders.holders_page(space.id, job.cursor, self.page_size)
        if job.event == "live":
            host = self.users.get(space.host_id)
            message = notifications.space_live(space, host.display_name if host else "Someone")
        elif job.event == "starting":
            message = notifications.space_starting(space)
        else:
            message = notifications.space_canceled(space)
        self.notifier.send(holders, message)
        if after:
            self.queue.send([dump(job.model_copy(update={"cursor": after}))])

    def _promote(self, job: PromotePage) -> None:
        followers, after = self.users.followers_page(job.user_id, job.cursor, self.page_size)
        self.big.add_followers(job.user_id, followers)
        if after:
            self.queue.send([dump(job.model_copy(update={"cursor": after}))])
        else:
            self.big.finish_promotion(job.user_id)

    def _refunds(self, job: RefundsPage) -> None:
        """One page of a canceled Space's refunds (``TicketService.refund_page``); a failure
        raises, so this message (not a next one) is retried from the same position."""
        after = self.refund_page(job.space_id, job.cursor)
        if after:
            self.queue.send([dump(job.model_copy(update={"cursor": after}))])

    def _sync_schedules(self, job: SyncSchedules) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is not None:
            self.sync_schedules(space)

    def _live(self, space_id: str) -> Space | None:
        space = self.spaces.get(space_id, consistent=True)
        return space if space is not None and space.state is SpaceState.live else None


class BatchIncomplete(Exception):
    """Some messages of a batch failed: they go back to the queue (and, after a few deliveries,
    to its dead-letter queue); the ones that succeeded were deleted."""


@dataclass
class QueueConsumer:
    """Runs a batch of queue messages through the worker, one failure not failing the others."""

    worker: FanoutWorker
    queue: WorkQueue

    def handle_batch(self, records: list[tuple[str, str]]) -> int:
        """``records`` are ``(body, receipt_handle)``; returns how many were done."""
        done: list[str] = []
        failed = 0
        for body, receipt in records:
            try:
                self.worker.handle_body(body)
                done.append(receipt)
            except Exception:
                log.exception("fan-out message failed: %s", body[:500])
                failed += 1
        if failed:
            # Without partial batch responses Lambda retries the whole batch when we raise, so
            # the messages that succeeded are deleted now and only the failed ones come back.
            if done:
                self.queue.delete(done)
            raise BatchIncomplete(f"{failed} of {len(records)} fan-out message(s) failed")
        return len(done)
