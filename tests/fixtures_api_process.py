"""Real processes a suite can kill and restart: DynamoDB (moto's server) in a process of its own
that outlives the API, and the API (``tests/faults/api_process.py``, the local server ``make up``
serves) on its own port. The fault suite and the contract suite start the API this way."""
from __future__ import annotations

import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.processes import Server, StartFailed, free_port, start_server
from tests.real_servers import unavailable


def answers(url: str) -> bool:
    """Whether anything answers HTTP at ``url`` (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class MotoProcess:
    server: Server
    url: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def item(self, pk: str, sk: str, table: str = "airwaves-faults") -> dict:
        """An item as stored (consistent read), plain Python values; {} if absent."""
        from boto3.dynamodb.types import TypeDeserializer

        found = self.client("dynamodb").get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}},
                                                 ConsistentRead=True).get("Item", {})
        return {k: TypeDeserializer().deserialize(v) for k, v in found.items()}

    def space(self, space_id: str) -> dict:
        from chalicelib.adapters.dynamodb import keys

        return self.item(keys.space_pk(space_id), keys.META)


@pytest.fixture(scope="module")
def moto_process(tmp_path_factory) -> Iterator[MotoProcess]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        server = start_server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              ready=lambda _: answers(f"{url}/moto-api/"),
                              log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    except StartFailed as exc:
        unavailable("moto server", str(exc))
    yield MotoProcess(server, url)
    server.stop()


@dataclass
class ApiProcess:
    """The API in its own process on one port; ``start`` again after it died or was killed."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    server: Server | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, kill_at: str | None = None) -> None:
        """(Re)start; ``kill_at`` names the fault point at which the process SIGKILLs itself."""
        self.stop()
        env = {**self.env, "AIRWAVES_FAULT_KILL_AT": kill_at or ""}
        command = [sys.executable, "-m", "tests.faults.api_process", str(self.port)]
        if self.starts == 0:
            command.append("--provision")
        self.starts += 1
        self.server = start_server(command, ready=lambda _: answers(f"{self.url}/v1/health"),
                                   log_path=self.workdir / f"api-{self.starts}.log", env=env, timeout=60)

    def died_by_sigkill(self, timeout: float = 10) -> bool:
        assert self.server is not None
        try:
            code = self.server.process.wait(timeout=timeout)
        except Exception:  # noqa: BLE001 - still running
            return False
        return code == -signal.SIGKILL

    def kill(self) -> None:
        if self.server is not None and self.server.process.poll() is None:
            os.kill(self.server.process.pid, signal.SIGKILL)
            self.server.process.wait(timeout=10)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def log_tail(self) -> str:
        return self.server.log_tail() if self.server else ""


def api_environment(moto: MotoProcess, stripe_mock: Any, livekit_server: Any, table: str,
                    **overrides: str) -> dict[str, str]:
    """The API process's environment: moto's server, stripe-mock and livekit-server, on ``table``."""
    return {
        "AWS_ENDPOINT_URL": moto.url,
        "AIRWAVES_TABLE_NAME": table,
        "AIRWAVES_STRIPE_API_BASE": stripe_mock.url,
        "AIRWAVES_STRIPE_MAX_NETWORK_RETRIES": "0",
        "AIRWAVES_LIVEKIT_URL": livekit_server.url,
        "AIRWAVES_LIVEKIT_API_URL": livekit_server.api_url,
        "AIRWAVES_LIVEKIT_API_KEY": livekit_server.api_key,
        "AIRWAVES_LIVEKIT_API_SECRET": livekit_server.api_secret,
        **overrides,
    }
