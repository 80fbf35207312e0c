"""The live stage as HLS for listeners past a Space's WebRTC cap (issue 16), while the API says
``hls_live``: its own encoder and a small sliding-window playlist under ``spaces/<id>/live/``,
whatever the recording does (it may be off, toggled or deleted). Segments are uploaded as soon as
FFmpeg cuts them (the session flushes every quarter second), so a listener hears the stage one
segment (2 s) plus the upload and their player's buffer behind.

The playlist keeps the last ``KEEP`` segments (the API answers the last 6 of them) with
``EXT-X-MEDIA-SEQUENCE`` and ``EXT-X-DISCONTINUITY-SEQUENCE`` following what slid out, and each
segment's ``EXT-X-PROGRAM-DATE-TIME`` (Space start + offset, so wall-clock time). Segments that
slid out are deleted. A restarted worker reads the playlist back and goes on numbering after it
(a discontinuity marks the gap); ``EXT-X-ENDLIST`` is written when the Space ends.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from airwaves_media.codec import HlsRun
from airwaves_media.logs import Metric, measured
from airwaves_media.playlist import Playlist
from airwaves_media.store import Store, live_playlist_key, live_prefix

log = logging.getLogger("airwaves_media.live")

KEEP = 10


class LiveHls:
    def __init__(self, space_id: str, started_at: datetime, store: Store, workdir: Path, *, keep: int = KEEP) -> None:
        self.space_id = space_id
        self.store = store
        self.workdir = workdir
        self.keep = keep
        self.playlist = Playlist(started_at)
        self.discontinuity_sequence = 0
        self.run: HlsRun | None = None
        self.runs = 0
        self.lock = asyncio.Lock()

    async def load(self) -> None:
        """Go on after what an earlier worker wrote (numbers never go back for players)."""
        text = await asyncio.to_thread(self.store.get, live_playlist_key(self.space_id))
        if text:
            body = text.decode()
            self.playlist = Playlist.parse(body, self.playlist.started_at)
            self.playlist.ended = False
            for line in body.splitlines():
                if line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                    self.discontinuity_sequence = int(line.split(":", 1)[1])

    @property
    def running(self) -> bool:
        return self.run is not None

    def start(self, offset: float) -> None:
        if self.run is None:
            self.runs += 1
            self.run = HlsRun(self.workdir / f"live-{self.runs}", self.playlist.next_seq, offset)
            log.info("live HLS of %s from %.2fs (segment %d)", self.space_id, offset, self.playlist.next_seq)

    def write(self, pcm: np.ndarray) -> None:
        if self.run is not None:
            self.run.write(pcm)

    async def flush(self) -> None:
        async with self.lock:
            await self._flush(self.run)

    async def _flush(self, run: HlsRun | None) -> None:
        if run is None:
            return
        added = False
        for seg in run.finished():
            body = seg.path.read_bytes()
            await asyncio.to_thread(self.store.put, f"{live_prefix(self.space_id)}{seg.path.name}", body, "video/mp2t")
            seg.path.unlink(missing_ok=True)
            self.playlist.add(run.uploaded_end, seg.duration, seq=seg.seq)
            run.uploaded_end += seg.duration
            measured(Metric.hls_upload_lag, self.behind(run.uploaded_end), segment=seg.seq)
            added = True
        if added:
            gone = self._slide()
            await self._put_playlist()
            for seq_name in gone:
                try:
                    await asyncio.to_thread(self.store.delete, f"{live_prefix(self.space_id)}{seq_name}")
                except Exception:
                    log.warning("could not delete live segment %s of %s", seq_name, self.space_id, exc_info=True)

    def behind(self, offset: float) -> float:
        """Seconds from the Space's ``offset`` (as ``EXT-X-PROGRAM-DATE-TIME`` stamps it) to now."""
        return (datetime.now(UTC) - self.playlist.started_at).total_seconds() - offset

    def _slide(self) -> list[str]:
        gone = []
        while len(self.playlist.segments) > self.keep:
            dropped = self.playlist.segments.pop(0)
            self.discontinuity_sequence += int(dropped.discontinuity)
            gone.append(dropped.uri)
        if self.playlist.segments and self.playlist.segments[0].discontinuity and gone:
            # nothing before the first segment to be discontinuous with: its tag is counted instead
            self.playlist.segments[0].discontinuity = False
            self.discontinuity_sequence += 1
        return gone

    def render(self) -> str:
        lines = [line for line in self.playlist.render().splitlines() if not line.startswith("#EXT-X-PLAYLIST-TYPE")]
        if self.discontinuity_sequence:
            at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MEDIA-SEQUENCE")) + 1
            lines.insert(at, f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}")
        return "\n".join(lines) + "\n"

    async def _put_playlist(self) -> None:
        await asyncio.to_thread(self.store.put, live_playlist_key(self.space_id), self.render().encode(),
                                "application/vnd.apple.mpegurl")

    async def stop(self, *, ended: bool = False) -> None:
        """Close the open run and upload what it cut; ``ended``: the Space is over (ENDLIST)."""
        async with self.lock:
            run, self.run = self.run, None
            if run is not None:
                run.close()
                await self._flush(run)
                shutil.rmtree(run.workdir, ignore_errors=True)
            if ended and self.playlist.segments and not self.playlist.ended:
                self.playlist.ended = True
                await self._put_playlist()
