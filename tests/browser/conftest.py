"""Browser fixtures: Debian's chromium driven by Playwright (never ``playwright install``), fake
microphones fed generated tones, and the web app served against a real API on a free loopback
port (the in-process app on moto, the real livekit-server with its webhooks forwarded).

Under ``CI=true`` a missing chromium fails the run (``make test`` installs it); elsewhere the
browser tests skip.
"""
from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.real_servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "screenshots"
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


def write_tone(path: Path, hz: float, seconds: float = 10.0, rate: int = 48_000, *, pause: float = 0.0) -> Path:
    """A mono 16-bit WAV of a pure tone, then ``pause`` seconds of silence (chromium loops its
    fake capture file, so a pause makes the microphone speak in utterances)."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    samples = np.concatenate([samples, np.zeros(int(pause * rate), dtype="<i2")])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


class ApiOverHttp:
    """The in-process API (``LockedApi``) on a real loopback HTTP port, for the browser."""

    def __init__(self, api) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                res = api.call(self.command, self.path, raw=body, headers=headers)
                payload = res.body if isinstance(res.body, bytes) else (res.body or "").encode()
                self.send_response(res.status_code)
                for name, value in (res.headers or {}).items():
                    if name.lower() not in _HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def do_PUT(self) -> None:
                self._forward()

            def do_PATCH(self) -> None:
                self._forward()

            def do_DELETE(self) -> None:
                self._forward()

            def do_OPTIONS(self) -> None:
                self._forward()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="api-http", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class WebStack:
    api_url: str
    web_url: str


@pytest.fixture
def web_stack(live_api, monkeypatch):
    """The web app at a free port, calling the API at another (CORS allows exactly that origin),
    with the local runner draining the work queue as under ``make up`` (feed fan-out)."""
    from chalicelib.container import reset_container
    from infra.local.scheduler_runner import LocalRunner, provision
    from infra.local.web_app import DIST, WebAppServer

    if not (DIST / "app.js").exists():
        unavailable("the web app build", f"{DIST / 'app.js'} is missing; run `make web`")
    api = ApiOverHttp(live_api)
    web = WebAppServer(api.url, port=0)
    monkeypatch.setenv("AIRWAVES_CORS_ALLOWED_ORIGINS", f'["{web.url}"]')
    reset_container()
    provision()
    runner, stop = LocalRunner(), threading.Event()

    def drain() -> None:
        while not stop.wait(0.5):
            with live_api.lock:
                runner.drain(max_batches=20)

    drainer = threading.Thread(target=drain, name="queue-drain", daemon=True)
    drainer.start()
    yield WebStack(api_url=api.url, web_url=web.url)
    stop.set()
    drainer.join(timeout=10)
    web.close()
    api.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        unavailable("chromium", "Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    return path


@pytest.fixture(scope="package")
def playwright_driver():
    """Package-scoped, not session: while sync Playwright is open its event loop counts as running
    in this thread, so every later test that runs asyncio (the LiveKit SDK clients) would fail."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("playwright", str(exc))
    with sync_playwright() as p:
        yield p


@contextmanager
def tone_browsers(driver: Any, chromium_path: str, folder: Path) -> Iterator[Callable[..., Any]]:
    """``launch(hz)``: a chromium whose fake microphone plays a ``hz`` tone (``launch(hz, seconds,
    pause)``: ``seconds`` of it, then ``pause`` seconds of silence, over and over; WAVs in
    ``folder``); every one launched is closed at the end."""
    browsers = []

    def launch(hz: float, seconds: float = 10.0, pause: float = 0.0) -> Any:
        tone = write_tone(folder / f"tone-{int(hz)}-{seconds:g}-{pause:g}.wav", hz, seconds, pause=pause)
        browser = driver.chromium.launch(executable_path=chromium_path, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}", "--autoplay-policy=no-user-gesture-required"])
        browsers.append(browser)
        return browser

    try:
        yield launch
    finally:
        for b in browsers:
            b.close()


@pytest.fixture
def browser_with_tone(playwright_driver, chromium_path, tmp_path):
    """``launch(hz, seconds=10, pause=0)``: a chromium whose fake microphone plays a ``hz`` tone."""
    with tone_browsers(playwright_driver, chromium_path, tmp_path) as launch:
        yield launch


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


CAPTION_SCRIPT = {"hana": ["hello everyone and welcome", "this is the second line", "and a third one"]}


@pytest.fixture
def captioning_worker(web_stack, livekit_server, tmp_path):
    """The media worker, run by its own venv's Python as under ``make up``, registered with the
    session's livekit-server and calling this test's API over HTTP. It captions with the scripted
    engine: each voiced utterance of a speaker is heard as their next line of ``CAPTION_SCRIPT``.
    What it records goes to a moto S3 server of its own."""
    from tests.media_worker import WORKER_DIR, WORKER_PYTHON, Worker, moto_s3

    if not WORKER_PYTHON.exists():
        unavailable("the media worker's venv", f"{WORKER_PYTHON} is missing (make worker-install)")
    with moto_s3() as s3:
        worker = Worker({**os.environ, "PYTHONPATH": str(WORKER_DIR),
                         "LIVEKIT_URL": livekit_server.url, "LIVEKIT_API_KEY": livekit_server.api_key,
                         "LIVEKIT_API_SECRET": livekit_server.api_secret, "AIRWAVES_API_URL": web_stack.api_url,
                         "AIRWAVES_MEDIA_BUCKET": s3.bucket, "AWS_ENDPOINT_URL": s3.endpoint,
                         "AIRWAVES_MEDIA_EXECUTOR": "process", "AIRWAVES_MEDIA_IDLE_PROCESSES": "1",
                         "AIRWAVES_STT_ENGINE": "scripted", "AIRWAVES_STT_SCRIPT": json.dumps(CAPTION_SCRIPT)},
                        tmp_path / "worker", python=str(WORKER_PYTHON))
        worker.log_dir.mkdir()
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()
