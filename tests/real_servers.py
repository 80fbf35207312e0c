"""What the real-server fixtures share: building a pinned server, and failing (never skipping)
under ``CI=true`` when it cannot be had."""
from __future__ import annotations

import os
import subprocess
from typing import NoReturn

import pytest


def unavailable(server: str, reason: str) -> NoReturn:
    """A missing real server fails the run under CI; elsewhere the tests that need it skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{server} is required under CI: {reason}", pytrace=False)
    pytest.skip(f"{server} unavailable: {reason}")


def built_binary(server: str, build_command: list[str]) -> str:
    """Run a build script that prints the binary's path last (building it the first time)."""
    try:
        out = subprocess.run(build_command, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(server, f"build failed: {exc}")
    if out.returncode != 0 or not out.stdout.strip():
        unavailable(server, f"build failed ({out.returncode}): {out.stderr[-2000:]}")
    binary = out.stdout.strip().splitlines()[-1]
    if not os.access(binary, os.X_OK):
        unavailable(server, f"{binary} is not executable")
    return binary
