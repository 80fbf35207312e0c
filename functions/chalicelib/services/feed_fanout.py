"""Feed fan-out: the queue jobs that tell followers a Space is live, one bounded page at a time.

Who learns that a Space is live, per person on its stage:
- an ordinary account (fewer than ``big_threshold`` followers): each follower gets a feed entry
  (fan-out on write);
- a big account: nothing per follower; the Space goes into the account's live index, and readers
  merge it in (``following_feed.FollowingFeed``). The first time an account is seen big it is
  *promoting*: it is fanned out like an ordinary one while a job adds it to each follower's list of
  big accounts, then it is big for good (no flapping around the threshold).
The host's followers also get a push, whatever the host's size. Each method handles one job
class of ``domain/jobs.py``; ``background_jobs.BackgroundJobs`` picks the method by the job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from chalicelib.domain import notifications
from chalicelib.domain.feed import FEED_ROLES, FeedMode, on_stage
from chalicelib.domain.jobs import (
    Ended,
    FollowersPage,
    Job,
    PromotePage,
    RemindersPage,
    RoleChanged,
    UnfeedPage,
    WentLive,
)
from chalicelib.domain.notifications import Push
from chalicelib.domain.pages import PageRequest
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BigAccounts, FeedEntries, RateLimiter, SpaceRepository, UserRepository, WorkQueue
from chalicelib.services.notifications import Notifier


@dataclass
class FeedFanout:
    spaces: SpaceRepository
    users: UserRepository
    feed: FeedEntries
    big: BigAccounts
    notifier: Notifier
    queue: WorkQueue
    big_threshold: int
    page_size: int = 100
    limits: RateLimiter | None = None
    live_pushes_per_host_per_hour: int = 3  # "is live" pushes one follower gets from one host


    # -- a Space goes live, someone joins or leaves the stage, the Space ends ----------------
    def went_live(self, job: WentLive) -> None:
        space = self._live(job.space_id)
        if space is None:
            return
        follow_up: list[Job] = []
        modes = self._modes(sorted(on_stage(space)))
        for user_id, mode in modes.items():
            follow_up += self._spread(space, user_id, mode, notify=user_id == space.host_id)
        if space.scheduled_start is not None:
            follow_up.append(RemindersPage(space_id=space.id, event="live"))
        self.queue.send(follow_up)

    def role_changed(self, job: RoleChanged) -> None:
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
        else:
            self.big.forget_live_in(space, job.user_id)

    def ended(self, job: Ended) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None:
            return
        people = sorted(on_stage(space))
        big = self.big.modes(people)
        for user_id in people:
            if user_id in big:
                self.big.unindex_live(space, user_id)
            else:
                self.big.forget_live_in(space, user_id)
        self.queue.send([UnfeedPage(space_id=space.id, user_id=u) for u in sorted(self.big.fanned(space.id))])

    def _spread(self, space: Space, user_id: str, mode: FeedMode, *, notify: bool) -> list[Job]:
        """Index a big account now; return the page jobs that reach ``user_id``'s followers."""
        if mode in (FeedMode.promoting, FeedMode.big):
            self.big.index_live(space, user_id)
        else:
            self.big.note_live_in(space, user_id)
        feed = mode is not FeedMode.big
        if feed:
            self.big.note_fanned(space.id, user_id)
        if not (feed or notify):
            return []
        return [FollowersPage(space_id=space.id, user_id=user_id, feed=feed, notify=notify)]

    def _modes(self, user_ids: list[str]) -> dict[str, FeedMode]:
        """Each person's feed mode; an ordinary account that has grown big starts its promotion."""
        known = self.big.modes(user_ids)
        modes = {u: known.get(u, FeedMode.ordinary) for u in user_ids}
        ordinary = [u for u, m in modes.items() if m is FeedMode.ordinary]
        for user in self.users.get_many(ordinary) if ordinary else []:
            if user.follower_count >= self.big_threshold and self.big.begin_promotion(user.id):
                self.queue.send([PromotePage(user_id=user.id)])
                modes[user.id] = FeedMode.promoting
        return modes

    # -- pages -------------------------------------------------------------------------------
    def followers_page(self, job: FollowersPage) -> None:
        space = self._live(job.space_id)
        if space is None:
            return  # ended meanwhile: the rest of the audience has nothing to join
        feed = job.feed and job.user_id in on_stage(space)
        if not (feed or job.notify):
            return  # left the stage before their followers were all reached
        followers = self.users.followers_page(job.user_id, PageRequest(job.cursor, self.page_size))
        if feed:
            self.feed.add(space, job.user_id, followers.items)
        if job.notify:
            host = self.users.get(space.host_id)
            self._push_live(space, followers.items,
                            notifications.space_live(space, host.display_name if host else "Someone"))
        if followers.next:
            self.queue.send([job.model_copy(update={"cursor": followers.next})])

    def _push_live(self, space: Space, followers: list[str], message: Push) -> None:
        """Tell followers the host is live, except those already told
        ``live_pushes_per_host_per_hour`` times this hour by this host. A push counts only once
        it was delivered, so a page retried after a failure still reaches everyone."""
        if self.limits is None:
            self.notifier.send(followers, message)
            return
        now = int(time.time())
        window = now - now % 3600
        key = f"livepush#{space.host_id}#"
        used = self.limits.used([key + f for f in followers], window_start=window)
        allowed = [f for f in followers if used.get(key + f, 0) < self.live_pushes_per_host_per_hour]
        for follower in self.notifier.deliver(allowed, message):
            self.limits.take(key + follower, window_start=window, window_seconds=3600,
                             limit=self.live_pushes_per_host_per_hour)

    def unfeed_page(self, job: UnfeedPage) -> None:
        space = self.spaces.get(job.space_id, consistent=True)
        if space is None or space.state is SpaceState.live:
            return
        followers = self.users.followers_page(job.user_id, PageRequest(job.cursor, self.page_size))
        self.feed.remove(space, followers.items)
        if followers.next:
            self.queue.send([job.model_copy(update={"cursor": followers.next})])

    def promote_page(self, job: PromotePage) -> None:
        followers = self.users.followers_page(job.user_id, PageRequest(job.cursor, self.page_size))
        self.big.add_followers(job.user_id, followers.items)
        if followers.next:
            self.queue.send([job.model_copy(update={"cursor": followers.next})])
        else:
            self.big.finish_promotion(job.user_id)

    def _live(self, space_id: str) -> Space | None:
        space = self.spaces.get(space_id, consistent=True)
        return space if space is not None and space.state is SpaceState.live else None
