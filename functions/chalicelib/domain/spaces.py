"""Spaces: the rules for creating, scheduling and moving a Space through its life.

State machine: scheduled -> live -> ended, and scheduled -> canceled. A Space created without a
start time is live at once. Anything else is ``invalid_state``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, Field

from chalicelib.domain.errors import InvalidState, field_error
from chalicelib.domain.hls import hls_listener_count
from chalicelib.domain.languages import DEFAULT_LANGUAGE, clean_language
from chalicelib.domain.pins import Pin
from chalicelib.domain.recordings import Replay
from chalicelib.domain.text import clean_line

TITLE_MAX = 70
TOPICS_MAX = 3
TOPIC_MAX_LEN = 32
SCHEDULE_HORIZON = timedelta(days=30)
MAX_UPCOMING_PER_HOST = 10
MAX_COHOSTS = 2
MAX_SPEAKERS = 10

_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class SpaceState(str, Enum):
    scheduled = "scheduled"
    live = "live"
    ended = "ended"
    canceled = "canceled"


class Action(str, Enum):
    start = "start"
    end = "end"
    cancel = "cancel"
    edit = "edit"
    media_options = "change recording, captions, clips or the language of"


_TRANSITIONS: dict[tuple[SpaceState, Action], SpaceState] = {
    (SpaceState.scheduled, Action.start): SpaceState.live,
    (SpaceState.live, Action.end): SpaceState.ended,
    (SpaceState.scheduled, Action.cancel): SpaceState.canceled,
    (SpaceState.scheduled, Action.edit): SpaceState.scheduled,
    (SpaceState.scheduled, Action.media_options): SpaceState.scheduled,
    (SpaceState.live, Action.media_options): SpaceState.live,
}


@dataclass(frozen=True)
class TicketOffer:
    """What a host asks for when creating a ticketed Space (checked by ``check_ticket_offer``)."""

    price_cents: int
    currency: str
    quantity: int


@dataclass(frozen=True)
class MediaOptions:
    """Recording, captions, clips and the spoken language as asked (None: not given, so the
    default or unchanged). ``language`` is checked and made canonical by ``clean_language``."""

    recording: bool | None = None
    captions: bool | None = None
    clips_enabled: bool | None = None
    language: str | None = None

    def given(self) -> dict[str, bool | str]:
        language = clean_language(self.language) if self.language is not None else None
        return {k: v for k, v in (("recording", self.recording), ("captions", self.captions),
                                  ("clips_enabled", self.clips_enabled), ("language", language)) if v is not None}


class Ticketing(BaseModel):
    price_cents: int
    currency: str
    quantity: int
    sold: int = 0


class Space(BaseModel):
    id: str
    host_id: str
    cohost_ids: list[str] = Field(default_factory=list)
    speaker_ids: list[str] = Field(default_factory=list)
    title: str
    topics: list[str] = Field(default_factory=list)
    state: SpaceState
    scheduled_start: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    listener_count: int = 0
    peak_listener_count: int = 0
    ticket: Ticketing | None = None
    recording: bool = False
    pinned: Pin | None = None
    captions: bool = True
    clips_enabled: bool = True
    language: str = DEFAULT_LANGUAGE  # BCP 47, what the caption engine listens for
    replay: Replay | None = None
    subscriber_count: int = 0
    # Past one media node (``domain/hls.py``): WebRTC listener seats taken, whether the worker
    # cuts live HLS for listeners past the cap, distinct HLS listeners per 30-s window, and when
    # seats nobody connected to were last swept.
    webrtc_seats: int = 0
    hls_live: bool = False
    hls_windows: dict[int, int] = Field(default_factory=dict)
    seats_swept_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def sort_time(self) -> datetime:
        """When the Space sorts in lists: its start (actual if live, planned if scheduled)."""
        return self.started_at or self.scheduled_start or self.created_at

    def role_of(self, user_id: str) -> str:
        if user_id == self.host_id:
            return "host"
        if user_id in self.cohost_ids:
            return "cohost"
        if user_id in self.speaker_ids:
            return "speaker"
        return "listener"

    def can_moderate(self, user_id: str) -> bool:
        return user_id == self.host_id or user_id in self.cohost_ids

    @property
    def stage_ids(self) -> list[str]:
        """Everyone on stage (host, co-hosts, speakers): the people recorded and transcribed."""
        return [self.host_id, *self.cohost_ids, *self.speaker_ids]

    @property
    def needs_media_worker(self) -> bool:
        """Whether the media worker should be in the room (recording, clips, captions or HLS
        listeners)."""
        return self.recording or self.captions or self.clips_enabled or self.hls_live

    def hls_listener_count(self, now: datetime) -> int:
        """HLS listeners of the last 30-60 s (approximate: ``domain/hls.py``)."""
        return hls_listener_count(self.hls_windows, now) if self.state is SpaceState.live else 0

    def audience_count(self, now: datetime) -> int:
        """Everyone listening: connections to the room (exact) plus HLS listeners (approximate)."""
        return self.listener_count + self.hls_listener_count(now)


def next_state(current: SpaceState, action: Action) -> SpaceState:
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidState(
            f"cannot {action.value} a Space that is {current.value}",
            details={"state": current.value, "action": action.value},
        ) from None


def clean_title(title: str) -> str:
    """Control characters, bidi overrides and zero-width characters removed; text with nothing
    visible is refused like an empty one."""
    cleaned = clean_line(title)
    if not 1 <= len(cleaned) <= TITLE_MAX:
        raise field_error("title", f"must be 1 to {TITLE_MAX} characters")
    return cleaned


def clean_topics(topics: list[str]) -> list[str]:
    """Topics are lower-case slugs, deduplicated, at most three."""
    seen: list[str] = []
    for raw in topics:
        topic = raw.strip().lower()
        if not topic or len(topic) > TOPIC_MAX_LEN or not _TOPIC_RE.match(topic):
            raise field_error("topics", f"'{raw}' is not a topic: use 1-{TOPIC_MAX_LEN} of a-z, 0-9, '-', '_'")
        if topic not in seen:
            seen.append(topic)
    if len(seen) > TOPICS_MAX:
        raise field_error("topics", f"at most {TOPICS_MAX} topics")
    return seen


def normalize_topic(topic: str | None) -> str | None:
    """A topic as lists are filtered by it (case and surrounding space do not matter)."""
    cleaned = topic.strip().lower() if topic else ""
    return cleaned or None


def check_schedule(start: datetime, now: datetime) -> datetime:
    if start.tzinfo is None:
        raise field_error("scheduled_start", "must carry a time zone (RFC 3339)")
    if start <= now:
        raise field_error("scheduled_start", "must be in the future")
    if start > now + SCHEDULE_HORIZON:
        raise field_error("scheduled_start", f"must be at most {SCHEDULE_HORIZON.days} days ahead")
    return start
