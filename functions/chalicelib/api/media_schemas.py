"""Replays, clips and transcripts at the edge, and the media worker's internal requests
(``notes/MEDIA_CONTRACT.md``; the internal ones are left out of the public OpenAPI document)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field

from chalicelib.api.schemas import Out, Query, Request
from chalicelib.domain.recordings import ClipState, PublicReplayState, ReplayState, TranscriptSegment

if TYPE_CHECKING:
    from chalicelib.services.recordings import ClipView, ReplayView, WorkerView


# -- public ----------------------------------------------------------------------------------------
class ReplayOut(Out):
    state: PublicReplayState
    duration_seconds: float
    expires_at: datetime | None
    start_offset_seconds: float = Field(description="the host's trim: playback starts here")
    playback_url: str | None = Field(description="HLS media playlist (AAC), presigned segment URLs, time-limited; "
                                     "null until `available`")
    download_url: str | None = Field(description="the whole recording as Ogg Opus, time-limited")
    transcript_url: str | None = Field(description="the transcript as WebVTT, time-limited (null when there is none)")

    @classmethod
    def of(cls, view: ReplayView) -> ReplayOut:
        r = view.replay
        return cls(state=r.public_state(), duration_seconds=r.duration_seconds, expires_at=r.expires_at,
                   start_offset_seconds=r.start_offset_seconds, playback_url=view.playback_url,
                   download_url=view.download_url, transcript_url=view.transcript_url)


class ReplayPatchIn(Request):
    start_offset_seconds: float = Field(ge=0, description="trim the replay's start (seconds from the beginning)")


class ClipOut(Out):
    id: str
    space_id: str
    created_by: str
    state: Literal["pending", "available", "failed"]
    duration_seconds: float
    url: str | None = Field(description="Ogg Opus, time-limited; null until `available`")
    created_at: datetime

    @classmethod
    def of(cls, view: ClipView) -> ClipOut:
        c = view.clip
        return cls(id=c.id, space_id=c.space_id, created_by=c.created_by, state=c.state.value,
                   duration_seconds=c.duration_seconds, url=view.url, created_at=c.created_at)


class ClipPage(Out):
    items: list[ClipOut]
    next_cursor: str | None


class TranscriptItemOut(Out):
    speaker_id: str
    start_seconds: float = Field(description="seconds since the Space started")
    end_seconds: float
    text: str


class TranscriptOut(Out):
    items: list[TranscriptItemOut]


class TranscriptQuery(Query):
    format: Literal["json", "vtt"] = "json"


# -- internal: the media worker --------------------------------------------------------------------
class WorkerClipOut(Out):
    clip_id: str
    duration_seconds: float


class WorkerSpaceOut(Out):
    space_id: str
    state: str
    # to the millisecond (public times are to the second): the worker stamps its segments and
    # captions as seconds since this instant, and the API trims the replay on the same timeline
    started_at: str | None = Field(description="ISO 8601 UTC, milliseconds")
    recording: bool
    captions: bool
    clips_enabled: bool
    language: str
    stage_user_ids: list[str]
    pending_clips: list[WorkerClipOut]
    hls_live: bool = Field(description="cut the live stage as HLS under spaces/<id>/live/ (listeners past the "
                                       "WebRTC cap), recording or not")

    @classmethod
    def of(cls, view: WorkerView) -> WorkerSpaceOut:
        s = view.space
        started = (s.started_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                   if s.started_at else None)
        return cls(space_id=s.id, state=s.state.value, started_at=started, recording=view.recording,
                   captions=s.captions, clips_enabled=s.clips_enabled, language=view.language,
                   stage_user_ids=view.stage_user_ids, hls_live=s.hls_live and s.state.value == "live",
                   pending_clips=[WorkerClipOut(clip_id=c.id, duration_seconds=c.duration_seconds)
                                  for c in view.pending_clips])


class RecordingReportIn(Request):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    state: Literal["recording", "processing", "available", "failed"]
    duration_seconds: float = Field(ge=0)
    hls_key: str | None = Field(default=None, max_length=1024)
    ogg_key: str | None = Field(default=None, max_length=1024)

    @property
    def replay_state(self) -> ReplayState:
        return ReplayState(self.state)


class ClipReportIn(Request):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    state: Literal["available", "failed"]
    key: str | None = Field(default=None, max_length=1024)
    duration_seconds: float = Field(ge=0)

    @property
    def clip_state(self) -> ClipState:
        return ClipState(self.state)


class SegmentIn(Request):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    segment_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    speaker_id: str = Field(min_length=1, max_length=128)
    start_seconds: float = Field(ge=0)
    end_seconds: float = Field(ge=0)
    text: str = Field(max_length=4000)

    def segment(self) -> TranscriptSegment:
        return TranscriptSegment(self.segment_id, self.speaker_id, self.start_seconds,
                                 max(self.end_seconds, self.start_seconds), self.text)


class SegmentsIn(Request):
    model_config = ConfigDict(extra="ignore")
    segments: list[SegmentIn] = Field(max_length=100)


class CaptionEngineReportIn(Request):
    """The worker's caption engine: its name and the languages it transcribes (BCP 47 tags;
    null: any language, the scripted test engine; empty: none)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    engine: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    languages: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,35}$")]] | None = Field(max_length=500)
