"""Recording, replay, clips and transcripts (issue 13; the contract with the media worker is
``notes/MEDIA_CONTRACT.md``).

* ``MediaWorkerService`` is what the worker talks to (``/internal/media/...``): it reads the
  Space's recording options, stage and pending clips, and stores what the worker reports.
* ``ReplayService`` answers a replay with time-limited URLs, trims and deletes it.
* ``ClipService`` takes clip requests while live and answers clips.
* ``ReplayFollowsSpace`` is the lifecycle participant that dates a replay's expiry when its
  Space ends (and stops showing "recording" for a worker that never came back).

Playback: the worker's HLS playlist names its segments relatively (``000001.ts``), so a presigned
playlist alone would not play. The API rewrites it with presigned segment URLs (and the trim),
writes that playlist next to the recording (``spaces/<id>/playback/<trim>-<window>.m3u8``,
rewritten on each ask, one object per trim and validity window) and answers it presigned.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Forbidden, InvalidState, NotFound, RateLimited, UpstreamUnavailable, field_error
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.recordings import (
    MEDIA_AGENT_NAME,
    Clip,
    ClipState,
    PresignUri,
    Replay,
    ReplayState,
    TranscriptSegment,
    check_media_access,
    check_trim,
    next_replay,
    playback_key,
    replay_expiry,
    rewrite_playlist,
    space_prefix,
    to_webvtt,
    transcript_key,
)
from chalicelib.domain.roles import rate_window
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import (
    MediaServer,
    MediaStore,
    MemberRepository,
    RateLimiter,
    RecordingRepository,
    SpaceRepository,
    StaleReplay,
    TicketGate,
)
from chalicelib.services.joins import JoinService
from chalicelib.services.lifecycle import QuietParticipant
from chalicelib.services.worker_failures import report_worker_failure

log = logging.getLogger(__name__)

HLS_CONTENT_TYPE = "application/vnd.apple.mpegurl"
VTT_CONTENT_TYPE = "text/vtt; charset=utf-8"
_RETRIES = 4


@dataclass(frozen=True)
class MediaPolicy:
    """How long replays and URLs live, how long a clip is, how often one may be asked for."""

    retention: timedelta = timedelta(days=30)
    url_ttl: timedelta = timedelta(hours=6)
    clip_seconds: int = 30
    clips_per_minute: int = 6
    clip_timeout: timedelta = timedelta(minutes=2)  # a clip still pending this long reads "failed"


def new_clip_id() -> str:
    return "cl_" + uuid.uuid4().hex[:20]


def _update_replay(spaces: SpaceRepository, recordings: RecordingRepository, space_id: str,
                   change: Callable[[Space, Replay | None], Replay | None]) -> tuple[Space, Replay | None]:
    """Read the Space, apply ``change`` to its replay and store the result only if nobody wrote
    the replay in between (retried a few times); ``change`` answering None stores nothing."""
    for _ in range(_RETRIES):
        space = spaces.require(space_id, consistent=True)
        after = change(space, space.replay)
        if after is None:
            return space, space.replay
        try:
            recordings.put_replay(space_id, after, if_updated_at=space.replay.updated_at if space.replay else None)
            return space, after
        except StaleReplay:
            continue
    raise UpstreamUnavailable("the replay kept changing while this request ran; try again")


# -- lifecycle: the media worker goes where it is needed; the replay's clock starts at the end ---
@dataclass
class MediaRecordings(QuietParticipant):
    """The lifecycle participant of recorded media.

    * It sends the media worker to a live Space's room when it is needed (recording, clips or
      captions on): when the Space goes live and when an option is turned on while live. A failed
      dispatch is logged, never a refusal: the Space goes live without recording rather than not.
    * When a Space ends its replay's expiry is dated, and a replay the worker last reported as
      "recording" becomes "processing" (the worker finalizes it, or it visibly stays so)."""

    media: MediaServer
    spaces: SpaceRepository
    recordings: RecordingRepository
    policy: MediaPolicy

    def after_start(self, space: Space) -> None:
        if space.needs_media_worker:
            self._dispatch(space)

    def after_media_options(self, before: Space, after: Space) -> None:
        turned_on = ((after.recording and not before.recording) or (after.captions and not before.captions)
                     or (after.clips_enabled and not before.clips_enabled))
        if after.state is SpaceState.live and turned_on:
            self._dispatch(after)

    def _dispatch(self, space: Space) -> None:
        try:
            self.media.dispatch_agent(space.id, MEDIA_AGENT_NAME, {"space_id": space.id})
        except UpstreamUnavailable:
            log.warning("media worker dispatch to %s failed; recording, clips and captions wait for it", space.id,
                        exc_info=True)
            report_worker_failure("dispatch_failed", space.id)

    def after_end(self, space: Space) -> None:
        if space.replay is None:
            return

        def dated(current: Space, replay: Replay | None) -> Replay | None:
            if replay is None or replay.state is ReplayState.deleted:
                return None
            state = ReplayState.processing if replay.state is ReplayState.recording else replay.state
            return replay.model_copy(update={"state": state, "updated_at": utcnow(),
                                             "expires_at": replay_expiry(current.ended_at, self.policy.retention)})

        try:
            _update_replay(self.spaces, self.recordings, space.id, dated)
        except UpstreamUnavailable:
            log.warning("could not date the replay of %s; the worker's next report does", space.id, exc_info=True)


# -- what the worker reads and reports ------------------------------------------------------------
@dataclass(frozen=True)
class WorkerView:
    space: Space
    recording: bool
    stage_user_ids: list[str]
    pending_clips: list[Clip]
    language: str


@dataclass
class MediaWorkerService:
    spaces: SpaceRepository
    recordings: RecordingRepository
    store: MediaStore
    policy: MediaPolicy = field(default_factory=MediaPolicy)

    def view(self, space_id: str) -> WorkerView:
        space = self.spaces.require(space_id, consistent=True)
        deleted = space.replay is not None and space.replay.state is ReplayState.deleted
        live = space.state is SpaceState.live
        pending = self.recordings.pending_clips(space_id) if live and space.clips_enabled else []
        oldest = utcnow() - self.policy.clip_timeout
        pending = [c for c in pending if c.created_at > oldest]  # the API already answers those "failed"
        return WorkerView(space=space, recording=space.recording and live and not deleted,
                          stage_user_ids=space.stage_ids, pending_clips=pending, language=space.language)

    def report_recording(self, space_id: str, *, state: ReplayState, duration_seconds: float,
                         hls_key: str | None, ogg_key: str | None) -> None:
        for key in (hls_key, ogg_key):
            _check_key(space_id, key)
        if state is ReplayState.deleted:
            raise field_error("state", "must be recording, processing, available or failed")
        now = utcnow()
        before: list[ReplayState | None] = []

        def change(space: Space, replay: Replay | None) -> Replay | None:
            before[:] = [replay.state if replay else None]
            return next_replay(replay, state=state, duration_seconds=duration_seconds, hls_key=hls_key,
                               ogg_key=ogg_key, ended_at=space.ended_at, retention=self.policy.retention, now=now)

        _, replay = _update_replay(self.spaces, self.recordings, space_id, change)
        if replay is not None and replay.state is ReplayState.deleted:
            # the host deleted it while the worker was still writing: remove what it wrote since
            self.store.delete_prefix(space_prefix(space_id))
        if replay is not None and replay.state is ReplayState.failed and before[-1:] != [ReplayState.failed]:
            report_worker_failure("replay_failed", space_id)

    def report_clip(self, space_id: str, clip_id: str, *, state: ClipState, key: str | None,
                    duration_seconds: float) -> None:
        clip = self.recordings.get_clip(clip_id)
        if clip is None or clip.space_id != space_id:
            raise NotFound(f"no clip {clip_id} in Space {space_id}")
        if state is ClipState.pending:
            raise field_error("state", "must be available or failed")
        if state is ClipState.available and not key:
            raise field_error("key", "an available clip names its object")
        _check_key(space_id, key)
        if clip.state is not ClipState.pending:
            return  # idempotent: a clip's outcome is final
        finished = self.recordings.finish_clip(clip.model_copy(update={
            "state": state, "key": key, "duration_seconds": max(0.0, duration_seconds), "updated_at": utcnow()}))
        if finished and state is ClipState.failed:
            report_worker_failure("clip_failed", space_id, clip_id=clip_id)

    def add_segments(self, space_id: str, segments: Sequence[TranscriptSegment]) -> int:
        space = self.spaces.require(space_id)
        expires = (space.ended_at or utcnow()) + self.policy.retention + timedelta(days=1)
        return self.recordings.add_segments(space_id, segments, expires_at=expires) if segments else 0


def _check_key(space_id: str, key: str | None) -> None:
    if key is not None and (not key.startswith(space_prefix(space_id)) or ".." in key):
        raise field_error("key", f"must be an object under {space_prefix(space_id)}")


# -- who may see recorded media --------------------------------------------------------------------
@dataclass
class MediaAccess:
    tickets: TicketGate

    def check(self, space: Space, caller: str) -> None:
        role = space.role_of(caller)
        ticketed = space.ticket is not None
        check_media_access(role=role, ticketed=ticketed,
                           has_paid_ticket=ticketed and role == "listener"
                           and self.tickets.has_paid_ticket(space.id, caller))


# -- replays ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayView:
    replay: Replay
    playback_url: str | None
    download_url: str | None
    transcript_url: str | None


@dataclass
class ReplayService:
    spaces: SpaceRepository
    recordings: RecordingRepository
    store: MediaStore
    access: MediaAccess
    policy: MediaPolicy = field(default_factory=MediaPolicy)

    def visible(self, space_id: str, caller: str) -> tuple[Space, Replay]:
        space = self.spaces.require(space_id)
        replay = space.replay
        if replay is None or not replay.visible(utcnow()):
            raise NotFound(f"Space {space_id} has no replay")
        self.access.check(space, caller)
        return space, replay

    def get(self, caller: str, space_id: str) -> ReplayView:
        space, replay = self.visible(space_id, caller)
        if replay.state is not ReplayState.available:
            return ReplayView(replay, None, None, None)
        playback = self._playback_url(space, replay) if replay.hls_key else None
        download = (self.store.presign_get(replay.ogg_key, self.policy.url_ttl, download_name=f"{space.id}.ogg")
                    if replay.ogg_key else None)
        return ReplayView(replay, playback, download, self._transcript_url(space))

    def _playback_url(self, space: Space, replay: Replay) -> str | None:
        """The playable playlist of this replay version and window (written once per window: the
        segment URLs in it stay valid at least half the URL lifetime after any ask), presigned."""
        assert replay.hls_key is not None
        ttl = self.policy.url_ttl
        key = playback_key(space.id, replay, self._window())
        if not self.store.exists(key):
            text = self.store.read_text(replay.hls_key)
            if text is None:
                return None
            playable = rewrite_playlist(text, start_offset_seconds=replay.start_offset_seconds,
                                        started_at=space.started_at,
                                        resolve=PresignUri(replay.hls_key, lambda k: self.store.presign_get(k, ttl)))
            self.store.put_text(key, playable, HLS_CONTENT_TYPE)
        return self.store.presign_get(key, ttl)

    def _transcript_url(self, space: Space) -> str | None:
        """The transcript as WebVTT next to the recording (rewritten per validity window), presigned."""
        segments = self.recordings.segments(space.id)
        if not segments:
            return None
        key = transcript_key(space.id, self._window())
        self.store.put_text(key, to_webvtt(segments), VTT_CONTENT_TYPE)
        return self.store.presign_get(key, self.policy.url_ttl)

    def _window(self) -> int:
        return int(utcnow().timestamp() // max(1, int(self.policy.url_ttl.total_seconds()) // 2))

    def transcript(self, caller: str, space_id: str) -> list[TranscriptSegment]:
        """The transcript (seconds since the Space started), with the replay's access rules. It
        exists with or without a recording (captions alone make one); a deleted replay took it."""
        space = self.spaces.require(space_id)
        self.access.check(space, caller)
        if space.replay is not None and not space.replay.visible(utcnow()):
            return []
        return self.recordings.segments(space_id)

    def trim(self, caller: str, space_id: str, start_offset_seconds: float) -> ReplayView:
        if caller != self.spaces.require(space_id).host_id:  # before saying whether there is a replay
            raise Forbidden("only the host can trim the replay")
        _, replay = self.visible(space_id, caller)
        offset = check_trim(replay, start_offset_seconds)

        def trimmed(current: Space, now_replay: Replay | None) -> Replay | None:
            if now_replay is None or now_replay.state is ReplayState.deleted:
                raise NotFound(f"Space {space_id} has no replay")
            return now_replay.model_copy(update={"start_offset_seconds": offset, "updated_at": utcnow()})

        _update_replay(self.spaces, self.recordings, space_id, trimmed)
        return self.get(caller, space_id)

    def delete(self, caller: str, space_id: str) -> None:
        """Tombstone the replay (a late worker report cannot revive it), then remove every object
        under the Space's prefix, its clips and its transcript. A retried delete finishes the job."""
        space = self.spaces.require(space_id)
        if caller != space.host_id:  # before saying whether there is a replay
            raise Forbidden("only the host can delete the replay")
        if space.replay is None:
            raise NotFound(f"Space {space_id} has no replay")
        if space.state is SpaceState.live:
            raise InvalidState("the Space is live: turn recording off now, delete the replay once it has ended",
                               details={"state": space.state.value})

        def tombstone(current: Space, replay: Replay | None) -> Replay | None:
            if replay is None or replay.state is ReplayState.deleted:
                return None
            return Replay(state=ReplayState.deleted, updated_at=utcnow())

        _update_replay(self.spaces, self.recordings, space_id, tombstone)
        self.store.delete_prefix(space_prefix(space_id))
        self.recordings.delete_clips(space_id)
        self.recordings.delete_segments(space_id)


# -- clips -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipView:
    clip: Clip
    url: str | None


@dataclass
class ClipService:
    members: MemberRepository
    recordings: RecordingRepository
    store: MediaStore
    access: MediaAccess
    limits: RateLimiter
    joins: JoinService
    policy: MediaPolicy = field(default_factory=MediaPolicy)

    def create(self, caller: str, space_id: str) -> ClipView:
        space, member = self.members.space_and_member(space_id, caller)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        if space.state is not SpaceState.live:
            raise InvalidState("clips are made while the Space is live", details={"state": space.state.value})
        if not space.clips_enabled:
            raise Forbidden("the host turned clips off for this Space")
        self.joins.admit(space, caller, member)
        now = utcnow()
        window = rate_window(now, 60)
        if not self.limits.take(f"clips#{caller}", window_start=window, window_seconds=60,
                                limit=self.policy.clips_per_minute):
            raise RateLimited(f"at most {self.policy.clips_per_minute} clips a minute",
                              details={"limit": self.policy.clips_per_minute, "window_seconds": 60,
                                       "retry_after_seconds": max(1, window + 60 - int(now.timestamp()))})
        clip = Clip(id=new_clip_id(), space_id=space.id, created_by=caller, state=ClipState.pending,
                    duration_seconds=float(self.policy.clip_seconds), created_at=now, updated_at=now)
        self.recordings.create_clip(clip, expires_at=now + self.policy.retention + timedelta(days=1))
        return ClipView(clip, None)

    def get(self, caller: str, clip_id: str) -> ClipView:
        clip = self.recordings.get_clip(clip_id)
        if clip is None:
            raise NotFound(f"no clip {clip_id}")
        space, _ = self.members.space_and_member(clip.space_id, caller)
        if space is None:
            raise NotFound(f"no clip {clip_id}")
        self.access.check(space, caller)
        return self._view(clip)

    def page(self, caller: str, space_id: str, page: PageRequest) -> Page[ClipView]:
        space, _ = self.members.space_and_member(space_id, caller)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        self.access.check(space, caller)
        clips = self.recordings.clips_page(space_id, page)
        return Page([self._view(c) for c in clips.items], clips.next)

    def _view(self, clip: Clip) -> ClipView:
        if clip.state is ClipState.pending and utcnow() - clip.created_at > self.policy.clip_timeout:
            # no worker made it in time (none in the room, or it failed without a word)
            clip = clip.model_copy(update={"state": ClipState.failed})
            self._report_timeout(clip)
        url = (self.store.presign_get(clip.key, self.policy.url_ttl, download_name=f"{clip.id}.ogg")
               if clip.state is ClipState.available and clip.key else None)
        return ClipView(clip, url)

    def _report_timeout(self, clip: Clip) -> None:
        """A timed-out clip only reads failed (a late report still lands), so the first read that
        sees it reports the failure, once: a one-use slot of the rate limiter is the gate."""
        try:
            first = self.limits.take(f"clip_timeout#{clip.id}", window_start=int(clip.created_at.timestamp()),
                                     window_seconds=int(self.policy.retention.total_seconds()), limit=1)
        except UpstreamUnavailable:
            log.warning("could not note clip %s as timed out; a later read does", clip.id, exc_info=True)
            return
        if first:
            report_worker_failure("clip_timed_out", clip.space_id, clip_id=clip.id)
