"""The replay of one Space: live HLS runs uploaded as they are cut, our playlist in S3 (the only
state, so a restarted worker reads it back and goes on), and the Ogg Opus file at finalize.

Timeline: every offset is seconds since the Space's ``started_at``. Segments sit at their true
offsets (``#EXT-X-PROGRAM-DATE-TIME``); a gap (recording off, the worker restarting) is marked
``#EXT-X-DISCONTINUITY`` in HLS and is silence in the Ogg, whose sample t is Space time t.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from airwaves_media.api_client import MediaApi
from airwaves_media.codec import RATE, HlsRun, OggWriter, decode
from airwaves_media.playlist import Playlist
from airwaves_media.store import Store, hls_prefix, ogg_key, playlist_key

log = logging.getLogger("airwaves_media.recorder")


class Recorder:
    def __init__(self, space_id: str, started_at: datetime, store: Store, api: MediaApi, workdir: Path) -> None:
        self.space_id = space_id
        self.started_at = started_at
        self.store = store
        self.api = api
        self.workdir = workdir
        self.playlist = Playlist(started_at)
        self.run: HlsRun | None = None
        self.runs = 0
        self.reported_recording = False
        self.finalized = False

    async def load(self) -> None:
        """Pick up what an earlier worker wrote for this Space (a restart goes on, never over)."""
        text = await asyncio.to_thread(self.store.get, playlist_key(self.space_id))
        if text:
            self.playlist = Playlist.parse(text.decode(), self.started_at)
            self.playlist.ended = False
            self.reported_recording = bool(self.playlist.segments)
            log.info("resuming %s after %d segments (to %.1fs)", self.space_id, len(self.playlist.segments),
                     self.playlist.end_offset)

    @property
    def recording(self) -> bool:
        return self.run is not None

    def start(self, offset: float) -> None:
        if self.run is None:
            self.runs += 1
            self.run = HlsRun(self.workdir / f"run-{self.runs}", self.playlist.next_seq, offset)

    def write(self, pcm: np.ndarray) -> None:
        if self.run is not None:
            self.run.write(pcm)

    async def stop(self) -> None:
        """Close the open run (its last, shorter segment is cut) and upload what it made."""
        run, self.run = self.run, None  # detached first: the mix goes on while this uploads
        if run is None:
            return
        run.close()
        await self.flush(run)
        shutil.rmtree(run.workdir, ignore_errors=True)

    async def flush(self, run: HlsRun | None = None) -> None:
        """Upload the segments cut since the last flush, then the playlist that names them."""
        run = run or self.run
        if run is None:
            return
        added = False
        for seg in run.finished():
            body = seg.path.read_bytes()
            await asyncio.to_thread(self.store.put, f"{hls_prefix(self.space_id)}{seg.path.name}", body, "video/mp2t")
            seg.path.unlink(missing_ok=True)
            self.playlist.add(run.uploaded_end, seg.duration, seq=seg.seq)
            run.uploaded_end += seg.duration
            added = True
        if added:
            await self.put_playlist()
            if not self.reported_recording:
                await self.api.put_recording(self.space_id, "recording", self.playlist.end_offset,
                                             hls_key=playlist_key(self.space_id))
                self.reported_recording = True

    async def put_playlist(self) -> None:
        await asyncio.to_thread(self.store.put, playlist_key(self.space_id), self.playlist.render().encode(),
                                "application/vnd.apple.mpegurl")

    async def finalize(self, end_offset: float) -> float | None:
        """Close the replay: ENDLIST, the Ogg of the whole timeline, ``available``. The recorded
        duration, or ``None`` when nothing was ever recorded."""
        await self.stop()
        if self.finalized:
            return self.playlist.end_offset
        self.finalized = True
        if not self.playlist.segments:
            return None
        end = max(end_offset, self.playlist.end_offset)
        await self.api.put_recording(self.space_id, "processing", end, hls_key=playlist_key(self.space_id))
        self.playlist.ended = True
        await self.put_playlist()
        try:
            await asyncio.to_thread(self._write_ogg, end)
        except Exception:
            log.exception("the Ogg of %s failed", self.space_id)
            await self.api.put_recording(self.space_id, "failed", end, hls_key=playlist_key(self.space_id))
            raise
        await self.api.put_recording(self.space_id, "available", end, hls_key=playlist_key(self.space_id),
                                     ogg_key=ogg_key(self.space_id))
        return end

    def _write_ogg(self, end: float) -> None:
        """Every segment decoded and put at its offset; silence before, between and after."""
        with tempfile.TemporaryDirectory(prefix="airwaves-ogg-") as tmp:
            path = Path(tmp) / "recording.ogg"
            writer = OggWriter(path)
            for seg in self.playlist.segments:
                data = self.store.get(f"{hls_prefix(self.space_id)}{seg.uri}")
                if data is None:
                    log.warning("segment %s of %s is missing", seg.uri, self.space_id)
                    continue
                pcm = decode(data, "mpegts")
                at = round(seg.offset * RATE)
                if at > writer.samples:
                    writer.write_silence(at - writer.samples)
                elif at < writer.samples:
                    pcm = pcm[writer.samples - at:]
                writer.write(pcm)
            total = round(end * RATE)
            if total > writer.samples:
                writer.write_silence(total - writer.samples)
            writer.close()
            self.store.put(ogg_key(self.space_id), path.read_bytes(), "audio/ogg")
