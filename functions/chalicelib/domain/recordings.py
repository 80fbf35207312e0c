"""Recording, replay, clips and transcripts: the rules, as plain values.

The media worker (``livekit/worker/``) records the stage and reports what it wrote; the API keeps
the Space's ``replay`` (on the Space item), its clips and its transcript segments, answers
time-limited URLs and enforces who may see them. The contract between the two is
``notes/MEDIA_CONTRACT.md``; the S3 layout it fixes is built by the key functions below.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.errors import InvalidState, TicketRequired, field_error

MEDIA_AGENT_NAME = "airwaves-media"


class ReplayState(str, Enum):
    recording = "recording"      # the worker is writing it (the Space is live)
    processing = "processing"    # the Space ended, the worker is finalizing
    available = "available"
    failed = "failed"
    deleted = "deleted"          # the host deleted it: a tombstone, so a late worker report cannot revive it


PublicReplayState = Literal["processing", "available", "failed"]


class Replay(BaseModel):
    """A Space's recording as the worker reported it, plus the host's trim and the expiry."""

    state: ReplayState
    duration_seconds: float = 0.0
    hls_key: str | None = None
    ogg_key: str | None = None
    start_offset_seconds: float = 0.0
    expires_at: datetime | None = None   # set once the Space has ended
    updated_at: datetime | None = None

    def public_state(self) -> PublicReplayState:
        """The contract's three states: a replay still being recorded is ``processing``."""
        if self.state is ReplayState.available:
            return "available"
        if self.state is ReplayState.failed:
            return "failed"
        return "processing"

    def visible(self, now: datetime) -> bool:
        """Whether anyone may see it: not deleted and not expired."""
        if self.state is ReplayState.deleted:
            return False
        return self.expires_at is None or now < self.expires_at


def replay_expiry(ended_at: datetime | None, retention: timedelta) -> datetime | None:
    return ended_at + retention if ended_at else None


def next_replay(current: Replay | None, *, state: ReplayState, duration_seconds: float, hls_key: str | None,
                ogg_key: str | None, ended_at: datetime | None, retention: timedelta, now: datetime) -> Replay | None:
    """The replay after a worker report, or None when the report changes nothing.

    Reports are idempotent: ``available`` is final unless a report carries a longer duration
    (the worker restarted and appended); a deleted replay stays deleted."""
    if current is not None:
        if current.state is ReplayState.deleted:
            return None
        if current.state is ReplayState.available and not (
                state is ReplayState.available and duration_seconds > current.duration_seconds):
            return None
    offset = current.start_offset_seconds if current else 0.0
    return Replay(state=state, duration_seconds=max(0.0, duration_seconds),
                  hls_key=hls_key or (current.hls_key if current else None),
                  ogg_key=ogg_key or (current.ogg_key if current else None),
                  start_offset_seconds=offset, expires_at=replay_expiry(ended_at, retention), updated_at=now)


def check_trim(replay: Replay, start_offset_seconds: float) -> float:
    if start_offset_seconds < 0 or not math.isfinite(start_offset_seconds):
        raise field_error("start_offset_seconds", "must be 0 or more")
    if replay.duration_seconds and start_offset_seconds >= replay.duration_seconds:
        raise InvalidState(f"start_offset_seconds must be less than the replay's duration ({replay.duration_seconds:g} s)",
                           details={"field": "start_offset_seconds", "duration_seconds": replay.duration_seconds})
    return round(start_offset_seconds, 3)


# -- who may see recorded media --------------------------------------------------------------------
def check_media_access(*, role: str, ticketed: bool, has_paid_ticket: bool) -> None:
    """A ticketed Space's replay, clips and transcript need a paid ticket; the host, co-hosts and
    speakers are excepted."""
    if ticketed and role == "listener" and not has_paid_ticket:
        raise TicketRequired("this Space is ticketed: its replay needs a paid ticket")


# -- clips -----------------------------------------------------------------------------------------
class ClipState(str, Enum):
    pending = "pending"
    available = "available"
    failed = "failed"


class Clip(BaseModel):
    id: str
    space_id: str
    created_by: str
    state: ClipState
    duration_seconds: float
    key: str | None = None
    created_at: datetime
    updated_at: datetime


# -- transcripts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TranscriptSegment:
    segment_id: str
    speaker_id: str
    start_seconds: float
    end_seconds: float
    text: str


def _vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_webvtt(segments: list[TranscriptSegment]) -> str:
    """WebVTT of the segments, each cue voiced by its speaker (``<v speaker>``)."""
    lines = ["WEBVTT", ""]
    for seg in segments:
        text = " ".join(seg.text.split()).replace("-->", "->")
        speaker = re.sub(r"[<>&]", "", seg.speaker_id)
        lines += [seg.segment_id.replace("-->", "->"),
                  f"{_vtt_time(seg.start_seconds)} --> {_vtt_time(max(seg.end_seconds, seg.start_seconds))}",
                  f"<v {speaker}>{text.replace('<', '&lt;').replace('>', '&gt;')}", ""]
    return "\n".join(lines)


# -- S3 layout (notes/MEDIA_CONTRACT.md) -----------------------------------------------------------
def space_prefix(space_id: str) -> str:
    return f"spaces/{space_id}/"


def clip_key(space_id: str, clip_id: str) -> str:
    return f"spaces/{space_id}/clips/{clip_id}.ogg"


def playback_key(space_id: str, replay: Replay, window: int) -> str:
    """Where the API writes a replay's playable playlist (presigned segment URIs): one object per
    version of the replay (a worker report or a trim makes a new one) and validity window, written
    by the first ask in that window and reused by the others."""
    version = int(replay.updated_at.timestamp() * 1000) if replay.updated_at else 0
    return f"spaces/{space_id}/playback/{round(replay.start_offset_seconds * 1000)}-{version}-{window}.m3u8"


def transcript_key(space_id: str, window: int) -> str:
    return f"spaces/{space_id}/playback/transcript-{window}.vtt"


# -- HLS playlists ---------------------------------------------------------------------------------
@dataclass
class _Segment:
    tags: list[str]
    uri: str
    duration: float
    discontinuity: bool
    program_date_time: datetime | None = None


_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)")
_PROGRAM_DATE_TIME = "#EXT-X-PROGRAM-DATE-TIME:"


def _program_date_time(tags: list[str]) -> datetime | None:
    for tag in tags:
        if tag.startswith(_PROGRAM_DATE_TIME):
            try:
                when = datetime.fromisoformat(tag[len(_PROGRAM_DATE_TIME):].replace("Z", "+00:00"))
            except ValueError:
                return None
            return when if when.tzinfo else None
    return None


def rewrite_playlist(text: str, *, resolve: Callable[[str], str], start_offset_seconds: float = 0.0,
                     started_at: datetime | None = None) -> str:
    """The media playlist ``text`` made playable from anywhere: each relative segment URI becomes
    ``resolve(uri)`` (a presigned URL), and a trimmed start drops the segments that end before the
    offset and starts the first kept one at the remainder (``EXT-X-START``). Media and
    discontinuity sequence numbers follow the dropped segments, so players see a consistent list.

    ``start_offset_seconds`` is seconds since the Space started (``started_at``), the timeline of
    the Ogg download, the transcript and the replay's duration. The worker stamps every segment
    with ``#EXT-X-PROGRAM-DATE-TIME`` (started_at + its offset), so a segment's place is that
    stamp minus ``started_at``: the sum of EXTINFs would skip the time before the worker joined
    and every recording gap. Without stamps (or ``started_at``) the EXTINFs are summed."""
    header: list[str] = []
    segments: list[_Segment] = []
    pending: list[str] = []
    trailer: list[str] = []
    media_sequence = 0
    discontinuity_sequence = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            media_sequence = int(line.split(":", 1)[1])
            continue
        if line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            discontinuity_sequence = int(line.split(":", 1)[1])
            continue
        if line.startswith("#EXT-X-START:"):
            continue
        if line == "#EXT-X-ENDLIST":
            trailer.append(line)
            continue
        if line.startswith("#"):
            if not segments and not pending and not line.startswith(("#EXTINF", "#EXT-X-DISCONTINUITY",
                                                                     "#EXT-X-PROGRAM-DATE-TIME")):
                header.append(line)
            else:
                pending.append(line)
            continue
        match = next((m for m in (_EXTINF.match(t) for t in pending) if m), None)
        segments.append(_Segment(tags=pending, uri=line, duration=float(match.group(1)) if match else 0.0,
                                 discontinuity="#EXT-X-DISCONTINUITY" in pending,
                                 program_date_time=_program_date_time(pending)))
        pending = []
    offsets: list[float] = []
    for i, seg in enumerate(segments):
        if started_at is not None and seg.program_date_time is not None:
            offsets.append((seg.program_date_time - started_at).total_seconds())
        else:
            offsets.append(offsets[-1] + segments[i - 1].duration if i else 0.0)
    dropped = 0
    while dropped < len(segments) - 1 and offsets[dropped] + segments[dropped].duration <= start_offset_seconds:
        dropped += 1
    elapsed = offsets[dropped] if segments else 0.0
    kept = segments[dropped:]
    # the first kept segment's own tag is dropped too (nothing before it to be discontinuous with),
    # so it is counted like those of the dropped segments
    discontinuity_sequence += sum(1 for s in segments[:dropped + 1] if s.discontinuity) if dropped else 0
    remainder = max(0.0, start_offset_seconds - elapsed)
    out = [h for h in header if not h.startswith("#EXT-X-PLAYLIST-TYPE")]
    out.insert(1 if out and out[0] == "#EXTM3U" else 0, "#EXT-X-PLAYLIST-TYPE:VOD")
    if out[0] != "#EXTM3U":
        out.insert(0, "#EXTM3U")
    out.append(f"#EXT-X-MEDIA-SEQUENCE:{media_sequence + dropped}")
    if discontinuity_sequence:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if remainder > 0:
        out.append(f"#EXT-X-START:TIME-OFFSET={remainder:.3f},PRECISE=YES")
    for i, seg in enumerate(kept):
        tags = [t for t in seg.tags if not (i == 0 and dropped and t == "#EXT-X-DISCONTINUITY")]
        out += tags
        out.append(resolve(seg.uri))
    out += trailer or ["#EXT-X-ENDLIST"]
    return "\n".join(out) + "\n"


class PresignUri:
    """Turns a playlist's relative segment URI into a URL (the service binds it to the store)."""

    def __init__(self, base_key: str, presign: Callable[[str], str]) -> None:
        self.base = base_key.rsplit("/", 1)[0] + "/" if "/" in base_key else ""
        self.presign = presign

    def __call__(self, uri: str) -> str:
        if re.match(r"^[a-z]+://", uri):
            return uri
        parts: list[str] = []
        for part in (self.base + uri).split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return self.presign("/".join(parts))
