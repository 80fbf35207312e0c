"""The "live now from people you follow" feed: its order and who puts a Space in it.

Entries sort by the Space's actual start, newest first, then id: one key string
(``LIVE#<start>#<space_id>``) that is both the feed item's sort key and the list position a
cursor carries, so ordinary (fanned-out) and big-account (merged at read) Spaces interleave in
one order without duplicates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from enum import Enum

from chalicelib.domain.spaces import Space

KEY_PREFIX = "LIVE#"
FEED_ROLES = ("host", "cohost", "speaker")


class FeedMode(str, Enum):
    """How an account's followers learn it is live (see ``services/feed_fanout.py``)."""

    ordinary = "ordinary"    # fanned out on write: a feed entry per follower
    promoting = "promoting"  # grew big: still fanned out while followers are told to merge it
    big = "big"              # merged at read time from its live index


@dataclass(frozen=True)
class FeedEntry:
    """One fanned-out entry: the feed key and the followed people on stage who put it there."""

    key: str
    via: frozenset[str]


@dataclass(frozen=True)
class BigLive:
    """A live Space of a big account, as its live index holds it."""

    key: str
    via: str


def feed_key(space: Space) -> str:
    moment = space.sort_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{KEY_PREFIX}{moment}#{space.id}"


def space_id_of(key: str) -> str:
    return key.rsplit("#", 1)[-1]


def is_feed_key(value: object) -> bool:
    return isinstance(value, str) and value.startswith(KEY_PREFIX) and value.count("#") == 2


def on_stage(space: Space) -> set[str]:
    """Whose followers see this Space: its host, co-hosts and speakers."""
    return {space.host_id, *space.cohost_ids, *space.speaker_ids}
