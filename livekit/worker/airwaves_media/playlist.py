"""The replay's HLS media playlist: our own model, rendered to and parsed from S3.

Every segment carries ``#EXT-X-PROGRAM-DATE-TIME`` (the Space's ``started_at`` plus the segment's
offset), so the playlist alone says where each segment sits on the Space's timeline: a worker
that restarts reads it back and goes on, and the Ogg at finalize puts each segment at its true
offset. A gap (recording turned off, the worker down) starts the next segment with
``#EXT-X-DISCONTINUITY``: one replay, with the gap marked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SEGMENT_SECONDS = 2.0


@dataclass
class Segment:
    seq: int
    offset: float  # seconds since the Space's started_at
    duration: float
    discontinuity: bool = False

    @property
    def uri(self) -> str:
        return segment_name(self.seq)

    @property
    def end(self) -> float:
        return self.offset + self.duration


def segment_name(seq: int) -> str:
    return f"{seq:06d}.ts"


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Playlist:
    started_at: datetime
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False

    @property
    def next_seq(self) -> int:
        return self.segments[-1].seq + 1 if self.segments else 0

    @property
    def end_offset(self) -> float:
        return self.segments[-1].end if self.segments else 0.0

    @property
    def recorded_seconds(self) -> float:
        return sum(s.duration for s in self.segments)

    def add(self, offset: float, duration: float, *, seq: int | None = None) -> Segment:
        """Append a segment; it opens a discontinuity when it does not follow the last one."""
        last = self.segments[-1] if self.segments else None
        gap = last is not None and abs(offset - last.end) > 0.25
        segment = Segment(self.next_seq if seq is None else seq, offset, duration, discontinuity=gap)
        self.segments.append(segment)
        return segment

    def render(self) -> str:
        target = max(int(SEGMENT_SECONDS), *(math.ceil(s.duration - 0.5) for s in self.segments)) \
            if self.segments else int(SEGMENT_SECONDS)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.segments[0].seq if self.segments else 0}",
                 "#EXT-X-PLAYLIST-TYPE:EVENT"]
        for s in self.segments:
            if s.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(self.started_at + timedelta(seconds=s.offset))}")
            lines.append(f"#EXTINF:{s.duration:.3f},")
            lines.append(s.uri)
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str, started_at: datetime) -> Playlist:
        playlist = cls(started_at)
        discontinuity = False
        at: datetime | None = None
        duration = 0.0
        for raw in text.splitlines():
            line = raw.strip()
            if line == "#EXT-X-DISCONTINUITY":
                discontinuity = True
            elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                at = _parse_iso(line.split(":", 1)[1])
            elif line.startswith("#EXTINF:"):
                duration = float(line.split(":", 1)[1].split(",", 1)[0])
            elif line == "#EXT-X-ENDLIST":
                playlist.ended = True
            elif line and not line.startswith("#"):
                seq = int(line.rsplit("/", 1)[-1].split(".", 1)[0])
                offset = (at - started_at).total_seconds() if at else playlist.end_offset
                playlist.segments.append(Segment(seq, offset, duration, discontinuity))
                discontinuity, at = False, None
        return playlist
