"""Dependency probes for ``GET /v1/health``: each is timed, and a failure marks it down."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Probe = Callable[[], None] | None


def probe_all(probes: dict[str, Probe]) -> dict[str, dict[str, Any]]:
    """Run each probe; ``None`` means the dependency is not configured in this stage."""
    results: dict[str, dict[str, Any]] = {}
    for name, probe in probes.items():
        if probe is None:
            results[name] = {"status": "not_configured"}
            continue
        began = time.perf_counter()
        try:
            probe()
            results[name] = {"status": "ok", "latency_ms": round((time.perf_counter() - began) * 1000, 1)}
        except Exception as exc:  # noqa: BLE001 - any failure means the dependency is down
            results[name] = {"status": "down", "detail": type(exc).__name__}
    return results
