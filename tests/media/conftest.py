"""Fixtures of the media worker's tests, in the worker's own venv (``make test-media``): the real
livekit-server, moto's S3 server, a stand-in for the API's internal routes, and the worker
itself as a child process (``python -m airwaves_media``), restartable."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.event_loop import Aio, aio, event_loop_for_session  # noqa: F401 - fixtures, found by name
from tests.media.fake_api import FakeMediaApi
from tests.media_worker import WORKER_DIR, Worker, moto_s3
from tests.processes import StartFailed, start_livekit
from tests.real_servers import built_binary, unavailable

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="session")
def s3():
    with moto_s3() as s3:
        yield s3


@pytest.fixture(scope="session")
def fake_api():
    api = FakeMediaApi(secret=secrets.token_hex(16))
    yield api
    api.close()


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
