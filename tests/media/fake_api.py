"""A stand-in for the API's internal media routes (MEDIA_CONTRACT.md), over real HTTP on
loopback, so the worker's tests do not depend on the API being built: it answers
``GET /internal/media/spaces/{id}`` from what a test set, and records the worker's PUTs."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SPACE = re.compile(r"^/internal/media/spaces/([^/]+)$")
_RECORDING = re.compile(r"^/internal/media/spaces/([^/]+)/recording$")
_SEGMENTS = re.compile(r"^/internal/media/spaces/([^/]+)/transcript-segments$")
_CLIP = re.compile(r"^/internal/media/spaces/([^/]+)/clips/([^/]+)$")


class FakeMediaApi:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.spaces: dict[str, dict[str, Any]] = {}
        self.recording: dict[str, list[dict[str, Any]]] = {}
        self.clips: dict[str, dict[str, Any]] = {}  # clip_id -> the worker's report (+ "at")
        self.polls: dict[str, int] = {}
        self.segments: dict[str, dict[str, Any]] = {}  # segment_id -> segment (idempotent)
        self.unauthorized = 0
        self.caption_engines: list[dict[str, Any]] = []  # the worker's engine reports, in order
        self.request_ids: set[str] = set()  # the X-Request-Id of every call (the worker's job ids)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: Any = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                api.request_ids.add(self.headers.get("X-Request-Id") or "")
                if self.headers.get("Authorization") != f"Bearer {api.secret}":
                    api.unauthorized += 1
                    self._answer(401, {"error": {"code": "unauthorized"}})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                found = _SPACE.match(self.path)
                with api.lock:
                    space = api.spaces.get(found.group(1)) if found else None
                    if space is None:
                        self._answer(404, {"error": {"code": "not_found"}})
                        return
                    api.polls[space["space_id"]] = api.polls.get(space["space_id"], 0) + 1
                    self._answer(200, space)

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not _SEGMENTS.match(self.path):
                    self._answer(404, {"error": {"code": "not_found"}})
                    return
                with api.lock:
                    for seg in body.get("segments", []):
                        api.segments[seg["segment_id"]] = seg
                self._answer(204)

            def do_PUT(self) -> None:
                if not self._authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with api.lock:
                    if self.path == "/internal/media/caption-engine":
                        api.caption_engines.append(body)
                    elif found := _RECORDING.match(self.path):
                        api.recording.setdefault(found.group(1), []).append({**body, "at": time.time()})
                    elif found := _CLIP.match(self.path):
                        space_id, clip_id = found.groups()
                        api.clips[clip_id] = {**body, "at": time.time()}
                        space = api.spaces.get(space_id)
                        if space:
                            space["pending_clips"] = [c for c in space["pending_clips"] if c["clip_id"] != clip_id]
                    else:
                        self._answer(404, {"error": {"code": "not_found"}})
                        return
                self._answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_space(self, space_id: str, *, stage: list[str], recording: bool = True, clips_enabled: bool = True,
                  captions: bool = False, started_at: float | None = None) -> float:
        started = time.time() if started_at is None else started_at
        with self.lock:
            self.spaces[space_id] = {
                "space_id": space_id, "state": "live",
                "started_at": datetime.fromtimestamp(started, UTC).isoformat().replace("+00:00", "Z"),
                "recording": recording, "captions": captions, "clips_enabled": clips_enabled, "language": "en",
                "stage_user_ids": list(stage), "pending_clips": []}
        return started

    def update(self, space_id: str, **fields: Any) -> None:
        with self.lock:
            self.spaces[space_id].update(fields)

    def request_clip(self, space_id: str, clip_id: str, seconds: float = 30) -> float:
        with self.lock:
            self.spaces[space_id]["pending_clips"].append({"clip_id": clip_id, "duration_seconds": seconds})
        return time.time()

    def last_recording(self, space_id: str) -> dict[str, Any] | None:
        with self.lock:
            reports = self.recording.get(space_id) or []
            return reports[-1] if reports else None

    def close(self) -> None:
        self.server.shutdown()
