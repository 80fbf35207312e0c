"""The web app under ``make up``: ``web/dist`` (built by ``make web``) served at
http://127.0.0.1:8080, with ``/config.json`` telling the page where the API is.

The browser tests serve the same way (``WebAppServer``) on a free port, pointed at their API.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
WEB_HOST, WEB_PORT = "127.0.0.1", int(os.environ.get("AIRWAVES_WEB_PORT", "8080"))


class _Handler(http.server.SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


class WebAppServer:
    """Serves ``dist`` on ``host:port`` in a daemon thread until ``close()``."""

    def __init__(self, api_url: str, *, host: str = WEB_HOST, port: int = WEB_PORT, dist: Path = DIST) -> None:
        if not (dist / "index.html").exists():
            raise SystemExit(f"the web app is not built ({dist}); run `make web`")
        handler = type("Handler", (_Handler,), {"config": json.dumps({"api_url": api_url}).encode()})
        self.server = http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(dist)))
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="web-app", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_web_app(stop: threading.Event) -> None:
    """A loop of the local stack (``LOOPS``): the web app until the stack stops."""
    from infra.local.stack import API_HOST, API_PORT

    server = WebAppServer(f"http://{API_HOST}:{API_PORT}")
    print(f"[stack] web app at {server.url}", flush=True)
    stop.wait()
    server.close()


def register() -> None:
    from infra.local.stack import LOOPS

    LOOPS.append(serve_web_app)


register()
