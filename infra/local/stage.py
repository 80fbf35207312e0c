"""The local stage's environment and an honest AWS emulation, shared by the stack and tests."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stage_environment(stage: str = "local") -> dict[str, str]:
    """The environment ``chalicefile.json`` gives ``stage`` (top level, then the stage's own)."""
    config = json.loads((ROOT / "chalicefile.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def apply_stage_environment(stage: str = "local", **overrides: str) -> None:
    os.environ.update(stage_environment(stage))
    os.environ.update(overrides)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


_dynamo_lock = threading.RLock()
_patched = False


def make_moto_dynamodb_atomic() -> None:
    """Give moto's DynamoDB the per-request atomicity the real service has.

    moto evaluates a condition and applies the write without a lock, so two threads can both
    pass a condition that real DynamoDB would let only one pass; and its request handlers copy
    and serialise live items outside the backend, so a request racing an update can fail with
    "dictionary changed size during iteration" (the real service never does). Serialising each
    whole request, from parsing to its answer, makes the emulator honest, so concurrency tests
    exercise our conditions, not moto's races.
    """
    global _patched
    if _patched:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def locked(self: DynamoHandler) -> object:
        with _dynamo_lock:
            return original(self)

    DynamoHandler.call_action = locked  # type: ignore[method-assign]
    _patched = True
