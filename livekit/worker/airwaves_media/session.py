"""One Space's media session in its room: subscribe to the stage, mix it on a wall clock, feed
the clip ring and the recorder, poll the API (recording on/off, clips, the end), finalize.

Nothing here depends on livekit-agents: ``agent.py`` builds a session per job; tests and
benches can build one over a plain ``rtc.Room``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from airwaves_media.api_client import MediaApi, SpaceMedia
from airwaves_media.captions import TOPIC, Caption, SpeechEngine, prewarm
from airwaves_media.codec import RATE, ogg_opus
from airwaves_media.live import LiveHls
from airwaves_media.logs import Metric, failure, measured
from airwaves_media.mixer import Clock, Mixer
from airwaves_media.recorder import Recorder
from airwaves_media.ring import Ring
from airwaves_media.stage_captions import StageCaptions
from airwaves_media.store import Store, clip_key
from livekit import api, rtc

log = logging.getLogger("airwaves_media.session")

STAGE_ROLES = frozenset({"host", "cohost", "speaker"})
TICK = 0.02
CAPTION_DRAIN_SECONDS = 5.0  # the last utterance's final decode (Transcribe waits up to 3 s)


class Session:
    def __init__(self, room: rtc.Room, space_id: str, *, media_api: MediaApi, store: Store,
                 livekit: api.LiveKitAPI, workdir: Path, poll_seconds: float = 1.0,
                 clip_buffer_seconds: float = 120.0, engine: SpeechEngine | None = None) -> None:
        self.room = room
        self.space_id = space_id
        self.media_api = media_api
        self.store = store
        self.livekit = livekit
        self.workdir = workdir
        self.poll_seconds = poll_seconds
        self.mixer = Mixer()
        self.ring = Ring(int(clip_buffer_seconds * RATE))
        self.readers: dict[str, asyncio.Task[None]] = {}
        self.stage_ids: set[str] | None = None
        self.space: SpaceMedia | None = None
        self.recorder: Recorder | None = None
        self.live: LiveHls | None = None
        self.clock: Clock | None = None
        self.base_offset = 0.0
        self.clips_done: set[str] = set()
        self.stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._finalize_lock = asyncio.Lock()
        self.finalized = False
        self.engine = engine
        self.captions = StageCaptions(engine, self._caption, lambda: self.offset, prefix=space_id, threaded=True)
        self.segments_out: list[dict[str, object]] = []

    # -- the timeline -----------------------------------------------------------------------
    @property
    def offset(self) -> float:
        """The Space offset (seconds since started_at) of the next mixed sample."""
        produced = self.clock.produced if self.clock else 0
        return self.base_offset + produced / RATE - self.mixer.prefill / RATE

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Read the Space (until it has started), resume its replay, hook the room, start ticking."""
        while True:
            self.space = await self.media_api.space(self.space_id)
            if self.space and self.space.started_at:
                break
            await asyncio.sleep(self.poll_seconds)
        started_at = self.space.started_at
        self.stage_ids = set(self.space.stage_user_ids)
        self.recorder = Recorder(self.space_id, started_at, self.store, self.media_api, self.workdir)
        await self.recorder.load()
        self.captions.set_language(self.space.language)
        self.live = LiveHls(self.space_id, started_at, self.store, self.workdir)
        await self.live.load()
        self.clock = Clock(time.monotonic())
        self.base_offset = (datetime.now(UTC) - started_at).total_seconds()
        # segment ids name the job by when it joined (ms into the Space): a restarted worker's
        # segments never overwrite the ones its predecessor stored
        self.captions.prefix = f"{self.space_id}-{round(self.base_offset * 1000)}"
        if self.engine is not None and self.space.captions and self.captions.available:
            self._spawn(asyncio.to_thread(prewarm, self.engine))
        self.room.on("track_published", lambda pub, p: self._update(p))
        self.room.on("participant_connected", self._update)
        self.room.on("participant_attributes_changed", lambda _changed, p: self._update(p))
        self.room.on("track_subscribed", self._on_subscribed)
        self.room.on("track_unsubscribed", lambda track, pub, p: self._drop(pub.sid))
        self.room.on("participant_disconnected", self._on_left)
        for p in self.room.remote_participants.values():
            self._update(p)
        self._tasks = [asyncio.create_task(self._tick(), name="mix"),
                       asyncio.create_task(self._poll(), name="poll"),
                       asyncio.create_task(self._flush_live(), name="live")]
        self._spawn(self._report_engine())
        await self._apply(self.space)

    def is_stage(self, p: rtc.RemoteParticipant) -> bool:
        role = p.attributes.get("role")
        if role:
            return role in STAGE_ROLES
        return self.stage_ids is not None and p.identity in self.stage_ids

    def _update(self, p: rtc.RemoteParticipant) -> None:
        """Subscribe to a stage member's microphone, and only theirs."""
        stage = self.is_stage(p)
        for pub in p.track_publications.values():
            if pub.kind == rtc.TrackKind.KIND_AUDIO and pub.subscribed != stage:
                pub.set_subscribed(stage)
            if not stage:
                self._drop(pub.sid)

    def _on_subscribed(self, track: rtc.Track, pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO or not self.is_stage(p):
            return
        self._drop(pub.sid)
        self.mixer.add(pub.sid)
        self.captions.add(pub.sid, p.identity)
        self.readers[pub.sid] = asyncio.create_task(self._read(pub.sid, track), name=f"read-{p.identity}")

    def _on_left(self, p: rtc.RemoteParticipant) -> None:
        for sid in list(p.track_publications):
            self._drop(sid)

    def _drop(self, sid: str) -> None:
        task = self.readers.pop(sid, None)
        if task:
            task.cancel()
        self.mixer.remove(sid)
        self.captions.remove(sid)

    async def _read(self, key: str, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
        try:
            async for event in stream:
                pcm = np.frombuffer(event.frame.data, dtype=np.int16)
                self.mixer.push(key, pcm)
                if self.space is not None and self.space.captions:
                    self.captions.push(key, pcm)
        finally:
            await stream.aclose()

    async def _tick(self) -> None:
        assert self.clock is not None
        while True:
            n = self.clock.due(time.monotonic())
            if n:
                pcm = self.mixer.pull(n)
                self.ring.write(pcm)
                if self.recorder:
                    try:
                        self.recorder.write(pcm)
                    except Exception:  # the clock must go on whatever the encoder does
                        log.exception("encoding %s failed", self.space_id, extra=failure("recording_encoding"))
                if self.live:
                    try:
                        self.live.write(pcm)
                    except Exception:
                        log.exception("live HLS encoding of %s failed", self.space_id, extra=failure("live_encoding"))
            await asyncio.sleep(TICK)

    async def _flush_live(self) -> None:
        """Live HLS segments go up as soon as they are cut (a quarter second at most later)."""
        while True:
            await asyncio.sleep(0.25)
            if self.live is not None and self.live.running:
                try:
                    await self.live.flush()
                except Exception:
                    log.exception("live HLS upload of %s failed", self.space_id, extra=failure("live_upload"))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            space = None
            try:
                space = await self.media_api.space(self.space_id)
                if space is not None:
                    await self._apply(space)
                if self.recorder:
                    await self.recorder.flush()
                await self.flush_segments()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll of %s failed", self.space_id)
            if space is not None and space.state not in ("live", "scheduled", "") and not self.finalized:
                log.info("%s is %s: finalizing", self.space_id, space.state)
                await self.finalize()
                self.stopped.set()
                return

    async def _apply(self, space: SpaceMedia) -> None:
        self.space = space
        self.captions.set_language(space.language)
        if set(space.stage_user_ids) != self.stage_ids:
            self.stage_ids = set(space.stage_user_ids)
            for p in self.room.remote_participants.values():
                self._update(p)
        assert self.recorder is not None
        if space.recording and space.state == "live" and not self.recorder.recording:
            log.info("recording %s from %.2fs", self.space_id, self.offset)
            self.recorder.start(self.offset)
        elif not space.recording and self.recorder.recording:
            log.info("recording of %s off at %.2fs", self.space_id, self.offset)
            await self.recorder.stop()
        if self.live is not None and space.hls_live and space.state == "live" and not self.live.running:
            self.live.start(self.offset)
        for clip in space.pending_clips:
            if clip.clip_id not in self.clips_done:
                await self.make_clip(clip.clip_id, clip.duration_seconds)

    async def _report_engine(self) -> None:
        """Tell the API which engine and languages this worker has (Space views and health show
        them); a failed report is logged, never a reason not to record."""
        name = "none"
        languages: list[str] | None = []  # no engine: no language gets captions
        if self.engine is not None:
            name = self.engine.name
            languages = None if self.engine.languages is None else sorted(self.engine.languages)
        try:
            await self.media_api.put_caption_engine(name, languages)
        except Exception:
            log.warning("reporting the caption engine of %s failed", self.space_id, exc_info=True)

    def _caption(self, caption: Caption) -> None:
        self._spawn(self._publish(caption))
        if caption.final:
            self.segments_out.append({"segment_id": caption.segment_id, "speaker_id": caption.speaker,
                                      "start_seconds": max(0.0, caption.start), "end_seconds": caption.end,
                                      "text": caption.text})

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _publish(self, caption: Caption) -> None:
        """A caption as LiveKit's agents publish one: a text stream sent as the speaker."""
        try:
            writer = await self.room.local_participant.stream_text(
                topic=TOPIC, sender_identity=caption.speaker, attributes={
                    "lk.transcribed_track_id": caption.track_sid, "lk.segment_id": caption.segment_id,
                    "lk.transcription_final": "true" if caption.final else "false"})
            await writer.write(caption.text)
            await writer.aclose()
            measured(Metric.caption_latency, self.offset - caption.end, final=caption.final)
        except Exception:
            log.exception("publishing a caption in %s failed", self.space_id, extra=failure("caption_publish"))

    async def flush_segments(self) -> None:
        if self.segments_out:
            batch, self.segments_out = self.segments_out, []
            try:
                await self.media_api.post_segments(self.space_id, batch)
            except Exception:
                self.segments_out = batch + self.segments_out
                raise

    async def make_clip(self, clip_id: str, seconds: float) -> None:
        pcm = self.ring.last(int(seconds * RATE))
        key = clip_key(self.space_id, clip_id)
        try:
            body = await asyncio.to_thread(ogg_opus, pcm)
            await asyncio.to_thread(self.store.put, key, body, "audio/ogg")
        except Exception:
            log.exception("clip %s failed", clip_id)
            await self.media_api.put_clip(self.space_id, clip_id, "failed", 0.0, None)
        else:
            await self.media_api.put_clip(self.space_id, clip_id, "available", pcm.size / RATE, key)
        self.clips_done.add(clip_id)

    async def room_exists(self) -> bool:
        res = await self.livekit.room.list_rooms(api.ListRoomsRequest(names=[self.space_id]))
        return any(r.name == self.space_id for r in res.rooms)

    async def close(self, reason: str = "") -> None:
        """The job ends (room left, worker stopping). The replay is finalized when the Space is
        over: the room is gone (deleted when the Space ends) or the API says so. Otherwise the
        open run is closed and uploaded, and a later worker goes on from the playlist."""
        end = self.offset
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sid in list(self.readers):
            self._drop(sid)
        await self.captions.drain(CAPTION_DRAIN_SECONDS)
        with contextlib.suppress(Exception):
            await self.flush_segments()
        over = self.finalized
        if not over:
            try:
                over = not await self.room_exists()
            except Exception:
                log.exception("cannot tell whether room %s still exists", self.space_id)
        if not over:
            with contextlib.suppress(Exception):
                space = await self.media_api.space(self.space_id)
                over = space is not None and space.state == "ended"
        if over:
            log.info("%s ended (%s): finalizing at %.2fs", self.space_id, reason, end)
            await self.finalize(end)
        else:
            if self.recorder:
                log.info("leaving %s (%s) with the replay open", self.space_id, reason)
                await self.recorder.stop()
            if self.live:
                await self.live.stop()

    async def finalize(self, end: float | None = None) -> None:
        async with self._finalize_lock:
            if self.finalized or self.recorder is None:
                return
            self.finalized = True
            if self.live is not None:
                try:
                    await self.live.stop(ended=True)
                except Exception:
                    log.exception("ending the live HLS of %s failed", self.space_id, extra=failure("live_upload"))
            await self.recorder.finalize(self.offset if end is None else end)
