"""``make up``: the whole local stack in one supervisor process.

Starts the AWS emulation (moto's server), the servers registered in ``SERVERS`` (LiveKit,
stripe-mock, ...), the API at http://127.0.0.1:8000 (the same Chalice app Lambda runs) and the
local runner that fires due schedules and drains queues. Waits for each to be healthy, prints
where everything is and how to mint a dev token, and stops everything on Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.stage import apply_stage_environment, make_moto_dynamodb_atomic

ROOT = Path(__file__).resolve().parents[2]

API_HOST, API_PORT = "127.0.0.1", int(os.environ.get("AIRWAVES_API_PORT", "8000"))
MOTO_PORT = int(os.environ.get("AIRWAVES_MOTO_PORT", "4566"))


@dataclass
class Server:
    """A child process the stack runs: how to start it and how to tell it is ready."""

    name: str
    command: Callable[[], list[str]]
    ready: Callable[[], bool]
    url: str
    env: Callable[[], dict[str, str]] = field(default=dict)


# Issues add their servers here (LiveKit, stripe-mock); each is started and health-checked.
SERVERS: list[Server] = []
# Background loops (the local scheduler/queue runner) registered as zero-argument callables.
LOOPS: list[Callable[[threading.Event], None]] = []
# Extra provisioning of the emulated AWS account (queues, schedule groups, SNS apps).
PROVISIONERS: list[Callable[[], None]] = []


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as res:
            return res.status < 500
    except Exception:  # noqa: BLE001 - not up yet
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not become ready within {timeout:.0f}s")


def start_aws() -> object:
    from moto.server import ThreadedMotoServer

    make_moto_dynamodb_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{MOTO_PORT}"
    wait_until(lambda: http_ok(f"http://127.0.0.1:{MOTO_PORT}/moto-api/"), "the AWS emulation")
    return server


def provision() -> None:
    import boto3

    from chalicelib.adapters.dynamodb.schema import ensure_table

    ensure_table(boto3.client("dynamodb"), os.environ["AIRWAVES_TABLE_NAME"])
    ensure_media_bucket(boto3.client("s3"), os.environ.get("AIRWAVES_MEDIA_BUCKET", ""))
    for step in PROVISIONERS:
        step()


def ensure_media_bucket(client: Any, bucket: str) -> None:
    """The recorded-media bucket (the media worker writes, the API presigns), if it is missing."""
    if not bucket:
        return
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def start_api() -> object:
    from infra.local.api_server import create_api_server

    server = create_api_server(API_HOST, API_PORT)
    thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    thread.start()
    return server


def register_extensions() -> None:
    """Import the modules that add servers, provisioners and loops (each issue's part)."""
    for module in ("infra.local.extensions",):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def main() -> None:
    apply_stage_environment("local")
    register_extensions()
    children: list[subprocess.Popen] = []
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    print(f"[stack] AWS emulation (moto) on http://127.0.0.1:{MOTO_PORT}", flush=True)
    moto = start_aws()
    provision()
    try:
        for server in SERVERS:
            print(f"[stack] starting {server.name} ...", flush=True)
            children.append(subprocess.Popen(server.command(), env={**os.environ, **server.env()},
                                             stdout=subprocess.DEVNULL if not os.environ.get("AIRWAVES_VERBOSE") else None,
                                             stderr=subprocess.STDOUT if not os.environ.get("AIRWAVES_VERBOSE") else None))
            wait_until(server.ready, server.name)
            print(f"[stack] {server.name} ready at {server.url}", flush=True)
        api = start_api()
        wait_until(lambda: http_ok(f"http://{API_HOST}:{API_PORT}/v1/health"), "the API")
        for loop in LOOPS:
            threading.Thread(target=loop, args=(stop,), daemon=True).start()
        print(f"""
[stack] Airwaves is up.
  API        http://{API_HOST}:{API_PORT}/v1  (docs: /v1/docs, spec: /v1/openapi.json)
  AWS        http://127.0.0.1:{MOTO_PORT}  (moto)
""" + "".join(f"  {s.name:<10} {s.url}\n" for s in SERVERS) + f"""
Mint a dev token:
  curl -s -X POST http://{API_HOST}:{API_PORT}/v1/dev/tokens -H 'Content-Type: application/json' \\
       -d '{{"user_id": "alice", "admin": true}}'
Ctrl-C stops everything.
""", flush=True)
        while not stop.is_set():
            for child, server in zip(children, SERVERS, strict=False):
                if child.poll() is not None:
                    print(f"[stack] {server.name} exited with {child.returncode}; stopping", flush=True)
                    stop.set()
            stop.wait(1)
        api.server.shutdown()  # type: ignore[attr-defined]
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        moto.stop()  # type: ignore[attr-defined]
        print("[stack] stopped", flush=True)


if __name__ == "__main__":
    # Extensions register into ``infra.local.stack``; make that name this very module (run as a
    # script it is ``__main__``, and a second import would get empty registries of its own).
    sys.modules.setdefault("infra.local.stack", sys.modules[__name__])
    main()
