""""Live now from people you follow": the bounded read.

``FollowingFeed.live_page`` merges two sources in one order (``domain.feed.feed_key``, newest
first): the reader's fanned-out entries (a Query of one partition, a window at a time) and the
live Spaces of the big accounts they follow (their live index). Every candidate is checked
against the Space (still live, the person still on stage, on the asked topic) and the follow edge
(still followed), so a stale entry never shows, and a page is short only at the end of the feed.
Work per page is bounded by the page size, a few windows, and the number of big accounts the
reader follows (or, past ``BIG_BATCH``, the number live right now), never by the number of Spaces
or users. Who writes the entries: ``feed_fanout.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import field_error
from chalicelib.domain.feed import BigLive, feed_key, is_feed_key, on_stage, space_id_of
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BigAccounts, FeedEntries, SpaceRepository

MAX_WINDOWS = 3      # feed windows read per page before answering with what was found
BIG_BATCH = 100      # up to this many followed big accounts: read their live index by key


@dataclass
class FollowingFeed:
    feed: FeedEntries
    big: BigAccounts
    spaces: SpaceRepository

    def live_page(self, user_id: str, page: PageRequest, *, topic: str | None = None) -> Page[Space]:
        before = (page.start or {}).get("before")
        if page.start is not None and not is_feed_key(before):
            raise field_error("cursor", "is not a cursor this list issued")
        window_top = before if isinstance(before, str) else None
        limit = page.limit
        big = self._big_candidates(user_id)
        found: list[Space] = []
        for _ in range(MAX_WINDOWS):
            entries, more = self.feed.entries_before(user_id, window_top, limit - len(found) + 1)
            floor = entries[-1].key if more else ""
            candidates: dict[str, set[str]] = {e.key: set(e.via) for e in entries}
            for live in big:
                if floor < live.key and (window_top is None or live.key < window_top):
                    candidates.setdefault(live.key, set()).add(live.via)
            keys = sorted(candidates, reverse=True)
            # Verify only as many as the page still needs; more only when some were stale.
            checked = 0
            while checked < len(keys):
                chunk = keys[checked:checked + limit - len(found)]
                shown = self._verify(user_id, chunk, candidates, topic)
                for n, key in enumerate(chunk, start=checked):
                    if key not in shown:
                        continue
                    found.append(shown[key])
                    if len(found) == limit:
                        rest = n + 1 < len(keys) or more
                        return Page(found, {"before": key} if rest else None)
                checked += len(chunk)
            if not more:
                return Page(found, None)
            window_top = floor
        return Page(found, {"before": window_top})

    def _big_candidates(self, user_id: str) -> list[BigLive]:
        followed = self.big.followed_by(user_id)
        if not followed:
            return []
        if len(followed) <= BIG_BATCH:
            return self.big.live_keys_of(sorted(followed))
        return [live for live in self.big.all_live_keys() if live.via in followed]

    def _verify(self, user_id: str, keys: list[str], vias: dict[str, set[str]],
                topic: str | None) -> dict[str, Space]:
        """The candidates that really are live (on ``topic``, if given) with someone ``user_id``
        follows on stage."""
        spaces = {s.id: s for s in self.spaces.get_many([space_id_of(k) for k in keys])}
        live: dict[str, tuple[Space, set[str]]] = {}
        for key in keys:
            space = spaces.get(space_id_of(key))
            if space is None or space.state is not SpaceState.live or feed_key(space) != key:
                continue
            if topic is not None and topic not in space.topics:
                continue
            people = vias[key] & on_stage(space)
            if people:
                live[key] = (space, people)
        if not live:
            return {}
        everyone: set[str] = set().union(*(p for _, p in live.values()))
        followed = self.big.following_among(user_id, sorted(everyone))
        return {key: space for key, (space, people) in live.items() if people & followed}
