"""The media worker as a child process, and moto's S3 as a server, for the worker's own tests
(``tests/media``, in the worker's venv), the benches, and the browser tests (in the API's venv:
they run the worker with its venv's Python, as ``make up`` does)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
WORKER_DIR = ROOT / "livekit" / "worker"
WORKER_PYTHON = WORKER_DIR / ".venv" / "bin" / "python"
BUCKET = "airwaves-media-test"


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


class Worker:
    """The worker as a child process; ``kill()`` and ``start()`` make a restart."""

    def __init__(self, env: dict[str, str], log_dir: Path, python: str = sys.executable) -> None:
        """``python``: the worker's venv's interpreter (this one, in the worker's own tests)."""
        self.env = env
        self.log_dir = log_dir
        self.python = python
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
            self.process = subprocess.Popen([self.python, "-m", "airwaves_media"], cwd=str(WORKER_DIR),
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
