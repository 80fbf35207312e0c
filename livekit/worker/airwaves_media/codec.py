"""Audio in and out of files with PyAV (FFmpeg): live HLS (MPEG-TS AAC, 2 s segments), Ogg Opus,
and decoding segments back to PCM. All PCM here is mono 48 kHz int16."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48_000
TIME_BASE = Fraction(1, RATE)


def _frame(pcm: np.ndarray, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1),
                                       format="s16", layout="mono")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


@dataclass
class FinishedSegment:
    seq: int
    duration: float
    path: Path


_EXTINF = re.compile(r"#EXTINF:([0-9.]+),\s*\n(\S+)")


class HlsRun:
    """One continuous run of segments from one AAC encoder (FFmpeg's HLS muxer cuts 2 s segments
    into ``workdir``, numbered from ``first_seq``). A run ends when recording stops, the worker
    stops or the Space ends; the next run opens a discontinuity in our playlist."""

    def __init__(self, workdir: Path, first_seq: int, offset: float, *, segment_seconds: float = 2.0,
                 bit_rate: int = 64_000) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.first_seq = first_seq
        self.offset = offset
        self.uploaded_end = offset  # where the segments handed out so far end (Space seconds)
        self.local_playlist = workdir / f"run-{first_seq:06d}.m3u8"
        self.container = av.open(str(self.local_playlist), mode="w", format="hls", options={
            "hls_time": f"{segment_seconds:g}", "hls_list_size": "0", "hls_segment_type": "mpegts",
            "hls_segment_filename": str(workdir / "%06d.ts"), "start_number": str(first_seq),
            "hls_flags": "temp_file"})
        self.stream = self.container.add_stream("aac", rate=RATE, layout="mono")
        self.stream.bit_rate = bit_rate
        self.samples = 0
        self.pts0 = round(offset * RATE)  # MPEG-TS timestamps carry the Space's offset
        self.closed = False
        self.reported = 0

    def write(self, pcm: np.ndarray) -> None:
        if pcm.size == 0:
            return
        for packet in self.stream.encode(_frame(pcm, self.pts0 + self.samples)):
            self.container.mux(packet)
        self.samples += pcm.size

    def close(self) -> None:
        if self.closed:
            return
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self.closed = True

    def finished(self) -> list[FinishedSegment]:
        """Segments FFmpeg has completed since the last call (all of them once closed)."""
        try:
            text = self.local_playlist.read_text()
        except FileNotFoundError:
            return []
        done = [FinishedSegment(int(Path(uri).stem), float(d), self.workdir / Path(uri).name)
                for d, uri in _EXTINF.findall(text)]
        new = done[self.reported:]
        self.reported = len(done)
        return new


class OggWriter:
    """An Ogg Opus file written as PCM arrives (to a file, so hours never sit in memory)."""

    def __init__(self, target: Path | io.BytesIO, *, bit_rate: int = 48_000) -> None:
        self.container = av.open(target if isinstance(target, io.BytesIO) else str(target), mode="w", format="ogg")
        self.stream = self.container.add_stream("libopus", rate=RATE, layout="mono")
        self.stream.bit_rate = bit_rate
        self.samples = 0

    def write(self, pcm: np.ndarray) -> None:
        if pcm.size == 0:
            return
        for packet in self.stream.encode(_frame(pcm, self.samples)):
            self.container.mux(packet)
        self.samples += pcm.size

    def write_silence(self, n: int) -> None:
        step = RATE
        while n > 0:
            k = min(step, n)
            self.write(np.zeros(k, dtype=np.int16))
            n -= k

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()


def ogg_opus(pcm: np.ndarray) -> bytes:
    buf = io.BytesIO()
    writer = OggWriter(buf)
    writer.write(pcm)
    writer.close()
    return buf.getvalue()


def decode(data: bytes | Path, fmt: str | None = None) -> np.ndarray:
    """Any audio file (TS segment, Ogg) as mono 48 kHz int16."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    out: list[np.ndarray] = []
    with av.open(source, mode="r", format=fmt) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for frame in container.decode(audio=0):
            out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        out.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
