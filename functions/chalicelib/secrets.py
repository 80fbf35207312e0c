"""Secrets read at run time and cached per container.

Deployed stages keep every secret (Stripe keys, webhook secrets, LiveKit key/secret, cursor key)
in one Secrets Manager JSON secret named by ``AIRWAVES_SECRETS_ARN``. The local stage has no such
secret: its dev-only values come from the environment that ``chalicefile.json`` sets.
"""
from __future__ import annotations

import json
import os
import time
from threading import Lock

from chalicelib.settings import get_settings

_CACHE_SECONDS = 300
_lock = Lock()
_cached: tuple[float, dict[str, str]] | None = None


def _load_from_secrets_manager(arn: str) -> dict[str, str]:
    from chalicelib.adapters.aws_clients import make_client

    answer = make_client("secretsmanager", get_settings().aws_region).get_secret_value(SecretId=arn)
    loaded: dict[str, str] = json.loads(answer["SecretString"])
    return loaded


class StageSecrets:
    """``SecretReader`` of the running stage (``get_secret`` below)."""

    def get_secret(self, name: str) -> str:
        return get_secret(name)


class StaticSecrets:
    """``SecretReader`` over fixed values: local tools, benchmarks and tests."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)

    def get_secret(self, name: str) -> str:
        return self._values.get(name, "")


def get_secret(name: str) -> str:
    """Value of secret ``name`` (e.g. ``stripe_secret_key``); ``""`` when it is not set.

    Looks in Secrets Manager when an ARN is configured (refreshed every five minutes so a rotation
    reaches warm containers), else in the environment variable ``AIRWAVES_<NAME>``.
    """
    global _cached
    arn = get_settings().secrets_arn
    if not arn:
        return os.environ.get(f"AIRWAVES_{name.upper()}", "")
    with _lock:
        if _cached is None or time.monotonic() - _cached[0] > _CACHE_SECONDS:
            _cached = (time.monotonic(), _load_from_secrets_manager(arn))
        return str(_cached[1].get(name, ""))
