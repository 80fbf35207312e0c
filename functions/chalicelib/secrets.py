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

from .settings import get_settings

_CACHE_SECONDS = 300
_lock = Lock()
_cached: tuple[float, dict[str, str]] | None = None


def _load_from_secrets_manager(arn: str) -> dict[str, str]:
    import boto3

    client = boto3.client("secretsmanager", region_name=get_settings().aws_region)
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


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
