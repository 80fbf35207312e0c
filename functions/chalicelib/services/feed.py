"""The "live now from people you follow" feed: events that feed it, and the bounded read.

``FanoutEvents`` is the lifecycle part: it only enqueues (one SQS message per event), so going
live costs the request the same whatever the audience; ``fanout.FanoutWorker`` does the rest.

``FollowingFeed.live_page`` merges two sources in one order (``domain.feed.feed_key``, newest
first): the reader's fanned-out entries (a Query of one partition, a window at a time) and the
live Spaces of the big accounts they follow (their live index). Every candidate is checked
against the Space (still live, the person still on stage) and the follow edge (still followed),
so a stale entry never shows. Work per page is bounded by the page size, a few windows, and the
number of big accounts the reader follows (or, past ``BIG_BATCH``, the number live right now),
never by the number of Spaces or users.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import field_error
from chalicelib.domain.feed import feed_key, is_feed_key, on_stage, space_id_of
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BigAccounts, FeedEntries, NoLifecycle, Position, SpaceRepository, UserRepository, WorkQueue

from .jobs import Ended, RemindersPage, RoleChanged, WentLive, dump

log = logging.getLogger(__name__)

MAX_WINDOWS = 3      # feed windows read per page before answering with what was found
BIG_BATCH = 100      # up to this many followed big accounts: read their live index by key


@dataclass
class FanoutEvents(NoLifecycle):
    queue: WorkQueue

    def after_start(self, space: Space) -> None:
        self._send(WentLive(space_id=space.id))

    def after_role_change(self, space: Space, user_id: str, role: str) -> None:
        self._send(RoleChanged(space_id=space.id, user_id=user_id, role=role))

    def after_end(self, space: Space) -> None:
        self._send(Ended(space_id=space.id))

    def after_cancel(self, space: Space) -> None:
        self._send(RemindersPage(space_id=space.id, event="canceled"))

    def _send(self, job) -> None:
        # The Space has changed already; a lost notice must not turn that into an error.
        try:
            self.queue.send([dump(job)])
        except Exception:
            log.exception("could not queue %s", job)


@dataclass
class FollowingFeed:
    feed: FeedEntries
    big: BigAccounts
    spaces: SpaceRepository

    def live_page(self, user_id: str, start: Position, limit: int) -> tuple[list[Space], Position]:
        before = (start or {}).get("before")
        if start is not None and not is_feed_key(before):
            raise field_error("cursor", "is not a cursor this list issued")
        big = self._big_candidates(user_id)
        found: list[Space] = []
        window_top = before
        for _ in range(MAX_WINDOWS):
            entries, more = self.feed.entries_before(user_id, window_top, limit - len(found) + 1)
            floor = entries[-1][0] if more else ""
            candidates: dict[str, set[str]] = {k: set(via) for k, via in entries}
            for key, via in big:
                if floor < key and (window_top is None or key < window_top):
                    candidates.setdefault(key, set()).add(via)
            keys = sorted(candidates, reverse=True)
            # Verify only as many as the page still needs; more only when some were stale.
            checked = 0
            while checked < len(keys):
                chunk = keys[checked:checked + limit - len(found)]
                shown = self._verify(user_id, chunk, candidates)
                for n, key in enumerate(chunk, start=checked):
                    if key not in shown:
                        continue
                    found.append(shown[key])
                    if len(found) == limit:
                        rest = n + 1 < len(keys) or more
                        return found, ({"before": key} if rest else None)
                checked += len(chunk)
            if not more:
                return found, None
            window_top = floor
        return found, {"before": window_top}

    def _big_candidates(self, user_id: str) -> list[tuple[str, str]]:
        followed = self.big.followed_by(user_id)
        if not followed:
            return []
        if len(followed) <= BIG_BATCH:
            return self.big.live_keys_of(sorted(followed))
        return [(key, via) for key, via in self.big.all_live_keys() if via in followed]

    def _verify(self, user_id: str, keys: list[str], vias: dict[str, set[str]]) -> dict[str, Space]:
        """The candidates that really are live with someone ``user_id`` follows on stage."""
        spaces = {s.id: s for s in self.spaces.get_many([space_id_of(k) for k in keys])}
        live: dict[str, tuple[Space, set[str]]] = {}
        for key in keys:
            space = spaces.get(space_id_of(key))
            if space is None or space.state is not SpaceState.live or feed_key(space) != key:
                continue
            people = vias[key] & on_stage(space)
            if people:
                live[key] = (space, people)
        if not live:
            return {}
        followed = self.big.following_among(user_id, sorted(set().union(*(p for _, p in live.values()))))
        return {key: space for key, (space, people) in live.items() if people & followed}


@dataclass
class BigFollowTracking:
    """The user repository, plus: following or unfollowing a big account updates the follower's
    list of big accounts (the other half of the read-time merge)."""

    inner: UserRepository
    big: BigAccounts

    def follow(self, follower: str, followee: str, now: datetime) -> bool:
        created = self.inner.follow(follower, followee, now)
        if self.big.modes([followee]):
            self.big.add_followers(followee, [follower])
        return created

    def unfollow(self, follower: str, followee: str) -> bool:
        removed = self.inner.unfollow(follower, followee)
        if self.big.modes([followee]):
            self.big.remove_follower(followee, follower)
        return removed

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

