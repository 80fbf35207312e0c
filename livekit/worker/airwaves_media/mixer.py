"""A wall-clocked mixer: one mono 48 kHz int16 track out of many, silence where nobody speaks.

Sources push whatever PCM arrives (in their own rhythm); ``pull(n)`` takes exactly ``n`` samples,
summing what each source has and padding the rest with zeros. The caller pulls on a wall clock,
so the output's length always equals elapsed time (a quiet stage is recorded as silence and
timestamps stay true). A source that runs ahead of the clock (drift, a burst after a stall) is cut
back to ``max_backlog`` samples, oldest first, so it can never push the mix late.
"""
from __future__ import annotations

from collections import deque

import numpy as np

RATE = 48_000


class Source:
    """A FIFO of int16 chunks with a small jitter buffer: it is only read once it holds
    ``prefill`` samples, and again after it ran dry, so network jitter does not chop the audio."""

    def __init__(self, prefill: int = 0) -> None:
        self.chunks: deque[np.ndarray] = deque()
        self.size = 0
        self.prefill = prefill
        self.primed = prefill == 0

    def push(self, pcm: np.ndarray) -> None:
        if pcm.size:
            self.chunks.append(pcm)
            self.size += pcm.size

    def drop_oldest(self, n: int) -> None:
        while n > 0 and self.chunks:
            head = self.chunks[0]
            if head.size <= n:
                self.chunks.popleft()
                self.size -= head.size
                n -= head.size
            else:
                self.chunks[0] = head[n:]
                self.size -= n
                n = 0

    def take(self, n: int) -> np.ndarray:
        """Up to ``n`` samples (fewer when it has fewer, none while it fills its jitter buffer)."""
        if not self.primed:
            if self.size < self.prefill:
                return np.zeros(0, dtype=np.int16)
            self.primed = True
        out: list[np.ndarray] = []
        need = n
        while need > 0 and self.chunks:
            head = self.chunks[0]
            if head.size <= need:
                out.append(self.chunks.popleft())
                need -= head.size
            else:
                out.append(head[:need])
                self.chunks[0] = head[need:]
                need = 0
        got = n - need
        self.size -= got
        if need > 0 and self.prefill:
            self.primed = False  # ran dry: fill the jitter buffer again
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


class Mixer:
    def __init__(self, *, prefill: int = RATE // 10, max_backlog: int = RATE * 4 // 10) -> None:
        self.sources: dict[str, Source] = {}
        self.prefill = prefill
        self.max_backlog = max_backlog

    def add(self, key: str) -> None:
        self.sources.setdefault(key, Source(self.prefill))

    def remove(self, key: str) -> None:
        self.sources.pop(key, None)

    def push(self, key: str, pcm: np.ndarray) -> None:
        source = self.sources.get(key)
        if source is None:
            return  # a source removed while its last frames were in flight
        source.push(np.asarray(pcm, dtype=np.int16).reshape(-1))
        if source.size > self.max_backlog:
            source.drop_oldest(source.size - self.max_backlog)

    def pull(self, n: int) -> np.ndarray:
        """Exactly ``n`` mixed samples."""
        acc = np.zeros(n, dtype=np.int32)
        for source in self.sources.values():
            got = source.take(n)
            acc[: got.size] += got
        return np.clip(acc, -32768, 32767).astype(np.int16)


class Clock:
    """How many samples are due at monotonic time ``now`` since ``start``: the mix is exactly as
    long as the time that passed."""

    def __init__(self, start: float, *, rate: int = RATE) -> None:
        self.start = start
        self.rate = rate
        self.produced = 0

    def due(self, now: float) -> int:
        target = int((now - self.start) * self.rate)
        n = max(0, target - self.produced)
        self.produced += n
        return n
