"""Health: each dependency's probe, timed; a failure marks it down.

``GET /v1/health`` is public, so it must not let anyone make us call every dependency (Stripe
included) per request: it answers the last deep check, run at most once per ``cache_seconds``
per container (concurrent callers at expiry wait for one run). ``GET /v1/health/live`` calls
nothing; ``GET /v1/admin/health`` (admin scope) runs the deep check fresh."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from chalicelib.ports import HealthProbe


@dataclass(frozen=True)
class DependencyState:
    status: Literal["ok", "down", "not_configured"]
    latency_ms: float | None = None
    detail: str | None = None


@dataclass
class HealthCheck:
    probes: Mapping[str, HealthProbe]  # dependency name -> its adapter
    cache_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, dict[str, DependencyState]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self) -> tuple[dict[str, DependencyState], float]:
        """The last deep check and its age in seconds; a new one if that is older than ``cache_seconds``."""
        with self._lock:
            now = self.clock()
            if self._cached is None or now - self._cached[0] >= self.cache_seconds:
                self._cached = (now, self.run())
                now = self.clock()
            at, states = self._cached
            return states, max(0.0, now - at)

    def run(self) -> dict[str, DependencyState]:
        """Ask each configured dependency; one not used in this stage is ``not_configured``."""
        results: dict[str, DependencyState] = {}
        for name, probe in self.probes.items():
            if not probe.configured:
                results[name] = DependencyState("not_configured")
                continue
            began = time.perf_counter()
            try:
                probe.ping()
                results[name] = DependencyState("ok", latency_ms=round((time.perf_counter() - began) * 1000, 1))
            except Exception as exc:  # noqa: BLE001 - any failure means the dependency is down
                results[name] = DependencyState("down", detail=type(exc).__name__)
        return results
