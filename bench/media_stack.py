"""The media worker's benches' stack: the real livekit-server, moto's S3, the stand-in API of
tests/media and the worker as its own process (job processes forked by livekit-agents), plus
CPU and memory of the worker's whole process tree read from /proc."""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.worker_venv import ROOT, WORKER_PYTHONPATH

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class MediaStack:
    lk: Any  # tests.media.conftest.LiveKit
    s3: Any  # tests.media.conftest.S3
    fake_api: Any  # tests.media.fake_api.FakeMediaApi
    worker: Any  # tests.media.conftest.Worker

    @property
    def pid(self) -> int:
        assert self.worker.process is not None
        return int(self.worker.process.pid)


@contextmanager
def media_stack(**worker_env: str) -> Iterator[MediaStack]:
    """Everything started, the worker registered (``worker_env`` on top of its settings)."""
    from tests.media.conftest import LiveKit
    from tests.media.fake_api import FakeMediaApi
    from tests.media_worker import BUCKET, Worker, moto_s3
    from tests.processes import start_livekit
    from tests.real_servers import built_binary

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    binary = built_binary("livekit-server", ["bash", str(ROOT / "livekit" / "build.sh")])
    with ExitStack() as running:
        started = start_livekit(binary, work, api_key="bench", api_secret=secrets.token_hex(24))
        running.callback(started.server.stop)
        lk = LiveKit(started.url, started.api_url, started.api_key, started.api_secret)
        s3 = running.enter_context(moto_s3())
        fake_api = FakeMediaApi(secrets.token_hex(16))
        running.callback(fake_api.close)
        worker = Worker({**os.environ, "PYTHONPATH": WORKER_PYTHONPATH,
                         "LIVEKIT_URL": lk.url, "LIVEKIT_API_KEY": lk.api_key, "LIVEKIT_API_SECRET": lk.api_secret,
                         "AIRWAVES_API_URL": fake_api.url, "AIRWAVES_MEDIA_WORKER_SECRET": fake_api.secret,
                         "AIRWAVES_MEDIA_BUCKET": BUCKET, "AWS_ENDPOINT_URL": s3.endpoint,
                         "AIRWAVES_MEDIA_IDLE_PROCESSES": "1", **worker_env}, work)
        running.callback(worker.stop)
        worker.start()
        yield MediaStack(lk, s3, fake_api, worker)


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):  # children of every thread
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICKS


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rate(pid: int, seconds: float) -> float:
    """The process tree's CPU over ``seconds`` of wall time, in cores."""
    a, t = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - a) / (time.monotonic() - t)
