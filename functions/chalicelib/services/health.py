"""``GET /v1/health``: each dependency's probe, timed; a failure marks it down."""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
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
