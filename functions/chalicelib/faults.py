"""Test-only fault points: the process dies between two steps, the way a Lambda timeout or a
crash kills it (no ``except`` or ``finally`` runs).

Inert unless ``AIRWAVES_FAULT_KILL_AT`` names the point. No stage sets it; only the fault suite
(``tests/faults/``) sets it, on the child processes it starts and then SIGKILLs this way.
"""
from __future__ import annotations

import os
import signal

ENV = "AIRWAVES_FAULT_KILL_AT"


def kill_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
