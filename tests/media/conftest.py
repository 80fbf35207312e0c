"""Fixtures of the media worker's tests, in the worker's own venv (``make test-media``): the real
livekit-server, moto's S3 server, a stand-in for the API's internal routes, and the worker
itself as a child process (``python -m airwaves_media``), restartable."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.event_loop import Aio, aio, event_loop_for_session  # noqa: F401 - fixtures, found by name
from tests.media.fake_api import FakeMediaApi
from tests.processes import StartFailed, free_port, start_livekit
from tests.real_servers import built_binary, unavailable

ROOT = Path(__file__).resolve().parents[2]
WORKER_DIR = ROOT / "livekit" / "worker"
BUCKET = "airwaves-media-test"


@dataclass
class LiveKit:
    url: str
    api_url: str
    api_key: str
    api_secret: str


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory):
    binary = built_binary("livekit-server", ["bash", str(ROOT / "livekit" / "build.sh")])
    try:
        started = start_livekit(binary, tmp_path_factory.mktemp("livekit"), api_key="airwaves-media-test",
                                api_secret=secrets.token_hex(24))
    except StartFailed as exc:
        unavailable("livekit-server", str(exc))
    yield LiveKit(started.url, started.api_url, started.api_key, started.api_secret)
    started.server.stop()


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: object

    def keys(self, prefix: str) -> list[str]:
        res = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)  # type: ignore[attr-defined]
        return sorted(o["Key"] for o in res.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]


@contextmanager
def moto_s3() -> Iterator[S3]:
    """moto's S3 as a server on a free loopback port, the media bucket made (also the benches')."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3(endpoint, BUCKET, client)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3():
    with moto_s3() as s3:
        yield s3


@pytest.fixture(scope="session")
def fake_api():
    api = FakeMediaApi(secret=secrets.token_hex(16))
    yield api
    api.close()


class Worker:
    """The worker as a child process; ``kill()`` and ``start()`` make a restart."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "airwaves_media"], cwd=str(WORKER_DIR),
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "registered worker" not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not register: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown callbacks, nothing flushed (a crash)."""
        if self.process:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def worker_process(livekit_server, s3, fake_api, tmp_path_factory):
    env = {**os.environ,
           "PYTHONPATH": f"{WORKER_DIR}{os.pathsep}{ROOT}",
           "LIVEKIT_URL": livekit_server.url, "LIVEKIT_API_KEY": livekit_server.api_key,
           "LIVEKIT_API_SECRET": livekit_server.api_secret,
           "AIRWAVES_API_URL": fake_api.url, "AIRWAVES_MEDIA_WORKER_SECRET": fake_api.secret,
           "AIRWAVES_MEDIA_BUCKET": s3.bucket, "AWS_ENDPOINT_URL": s3.endpoint,
           "AIRWAVES_MEDIA_EXECUTOR": os.environ.get("AIRWAVES_MEDIA_EXECUTOR", "process"),
           "AIRWAVES_MEDIA_IDLE_PROCESSES": "1",
           # captions by the scripted engine: each voiced utterance of a speaker is their next line
           "AIRWAVES_STT_ENGINE": "scripted",
           "AIRWAVES_STT_SCRIPT": json.dumps({"cap-host": ["hello from the host", "and a second line"],
                                              "cap-guest": ["the guest speaks now"]})}
    worker = Worker(env, tmp_path_factory.mktemp("worker"))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def worker(worker_process):
    """The running worker (started again if a test left it dead)."""
    if not worker_process.running():
        worker_process.start()
    return worker_process




@pytest.fixture
def embedded_worker(worker_process):
    """The worker with the embedded engine (Whisper) in place of the scripted one, for tests that
    caption real speech; only one worker is registered at a time, so dispatches reach this one.
    The scripted worker is back afterwards."""
    worker_process.stop()
    log_dir = worker_process.log_dir / "embedded"
    log_dir.mkdir(exist_ok=True)
    worker = Worker({**worker_process.env, "AIRWAVES_STT_ENGINE": "embedded"}, log_dir)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        worker_process.start()
