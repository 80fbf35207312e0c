"""The caption engine as the API knows it: the media worker reports its engine and languages
(``PUT /internal/media/caption-engine``); Space views and ``GET /v1/health`` read the last report,
cached per container for ``cache_seconds`` so a busy list costs one read a while, not one a Space."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.domain.captions import CaptionEngine, CaptionStatus, caption_status
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.spaces import Space
from chalicelib.ports import CaptionEngineRegistry


@dataclass
class CaptionEngines:
    registry: CaptionEngineRegistry
    cache_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, CaptionEngine | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, name: str, languages: list[str] | None) -> CaptionEngine:
        engine = CaptionEngine(name=name, languages=None if languages is None else sorted(set(languages)),
                               reported_at=utcnow())
        self.registry.put_engine(engine)
        with self._lock:
            self._cached = (self.clock(), engine)
        return engine

    def current(self) -> CaptionEngine | None:
        """The last report (None: no worker has reported yet, or the table cannot be read now:
        a Space view must not fail over its captions' status)."""
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= self.cache_seconds:
                try:
                    self._cached = (now, self.registry.engine())
                except UpstreamUnavailable:
                    return self._cached[1] if self._cached else None
            return self._cached[1]

    def status(self, space: Space) -> CaptionStatus:
        return caption_status(captions=space.captions, language=space.language, engine=self.current())
