"""boto3 clients for the adapters: created on first use, with bounded retries and timeouts."""
from __future__ import annotations

from typing import Any


def make_client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(
        retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=5))


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
