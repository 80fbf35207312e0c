"""The last N seconds of the mix, for clips: a fixed-size circular buffer of int16 samples."""
from __future__ import annotations

import numpy as np


class Ring:
    def __init__(self, capacity: int) -> None:
        self.buf = np.zeros(capacity, dtype=np.int16)
        self.capacity = capacity
        self.pos = 0  # next write index
        self.filled = 0

    def write(self, pcm: np.ndarray) -> None:
        pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
        if pcm.size >= self.capacity:
            self.buf[:] = pcm[-self.capacity:]
            self.pos, self.filled = 0, self.capacity
            return
        end = self.pos + pcm.size
        if end <= self.capacity:
            self.buf[self.pos:end] = pcm
        else:
            first = self.capacity - self.pos
            self.buf[self.pos:] = pcm[:first]
            self.buf[: pcm.size - first] = pcm[first:]
        self.pos = end % self.capacity
        self.filled = min(self.capacity, self.filled + pcm.size)

    def last(self, n: int) -> np.ndarray:
        """The newest ``min(n, filled)`` samples, oldest first."""
        n = min(n, self.filled)
        start = (self.pos - n) % self.capacity
        if start + n <= self.capacity:
            return self.buf[start:start + n].copy()
        return np.concatenate([self.buf[start:], self.buf[: (start + n) % self.capacity]])
