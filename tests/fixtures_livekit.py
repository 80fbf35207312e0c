"""LiveKit fixtures.

Every test gets ``media``: the real adapter (real token signing, real webhook verification)
whose server calls land in an in-memory room model instead of a network. API tests thus never
reach for a server on 127.0.0.1:7880 by accident, and can read what was sent. A test that needs
the real adapter talking to a real (or dead) server asks for ``real_media`` instead.

``livekit_server`` starts the real ``livekit-server`` (built by ``livekit/build.sh``) on free
loopback ports with its own rendered config, once per session. Under ``CI=true`` a failed build
or a server that does not come up fails the run; elsewhere those tests are skipped.
"""
from __future__ import annotations

import http.server
import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.livekit import LiveKitMedia
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.media import MediaParticipant
from tests.event_loop import Aio, aio, event_loop_for_session  # noqa: F401 - fixtures, found by name
from tests.processes import StartFailed, free_port, start_livekit
from tests.real_servers import built_binary, unavailable

ROOT = Path(__file__).resolve().parents[1]


# -- the in-memory media server ---------------------------------------------------------------
@dataclass
class FakeConnection:
    identity: str
    role: str
    sid: str
    publishing: bool = False  # a microphone track
    muted: bool = False

    @property
    def microphone_sid(self) -> str:
        return f"TR_mic_{self.sid}"


@dataclass
class FakeLiveKit(LiveKitMedia):
    """``LiveKitMedia`` with its network calls answered from memory. ``down = True`` makes every
    server call fail the way an unreachable server does."""

    rooms: dict[str, dict[str, FakeConnection]] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    dispatches: dict[tuple[str, str], dict] = field(default_factory=dict)
    down: bool = False

    def __post_init__(self) -> None:
        from chalicelib.secrets import StageSecrets

        LiveKitMedia.__init__(self, StageSecrets(), client_url="ws://127.0.0.1:7880", api_url="",
                              token_ttl=timedelta(seconds=300), empty_timeout=300, departure_timeout=60)

    def _server(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        if self.down:
            raise UpstreamUnavailable(f"the media server cannot be reached to {name}", details={"upstream": "livekit"})

    def connect(self, space_id: str, user_id: str, role: str, *, publishing: bool = False) -> FakeConnection:
        """Simulate a client that joined with a token for ``role``."""
        conn = FakeConnection(user_id, role, f"PA_{secrets.token_hex(4)}", publishing=publishing)
        self.rooms.setdefault(space_id, {})[user_id] = conn
        return conn

    def connection(self, space_id: str, user_id: str) -> FakeConnection | None:
        return self.rooms.get(space_id, {}).get(user_id)

    def calls_named(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]

    # the MediaServer port, server side
    def create_room(self, space_id: str) -> None:
        self._server("create_room", space_id)
        self.rooms.setdefault(space_id, {})

    def delete_room(self, space_id: str) -> None:
        self._server("delete_room", space_id)
        self.rooms.pop(space_id, None)

    def set_role(self, space_id: str, user_id: str, role: str) -> bool:
        self._server("set_role", space_id, user_id, role, self.permission_for(role))
        conn = self.connection(space_id, user_id)
        if conn is None:
            return False
        conn.role = role
        if role == "listener":
            conn.publishing = False  # the server unpublishes what may no longer be published
        return True

    def permission_for(self, role: str):
        from chalicelib.domain.roles import Role, media_grant

        return self.permission(media_grant(Role(role)))

    def remove_participant(self, space_id: str, user_id: str) -> bool:
        self._server("remove_participant", space_id, user_id)
        return self.rooms.get(space_id, {}).pop(user_id, None) is not None

    def mute_track(self, space_id: str, user_id: str, track_sid: str) -> bool:
        self._server("mute_track", space_id, user_id, track_sid)
        conn = self.connection(space_id, user_id)
        if conn is not None and conn.publishing and track_sid == conn.microphone_sid:
            conn.muted = True
        return conn is not None

    def microphones(self, space_id: str, user_id: str) -> dict[str, bool] | None:
        self._server("microphones", space_id, user_id)
        conn = self.connection(space_id, user_id)
        if conn is None:
            return None
        return {conn.microphone_sid: conn.muted} if conn.publishing else {}

    def send_data(self, space_id: str, topic: str, payload: dict, to=None) -> None:
        self._server("send_data", space_id, topic)
        self.sent.append({"space_id": space_id, "topic": topic, "payload": payload, "to": list(to or [])})

    def participants(self, space_id: str) -> list[MediaParticipant]:
        self._server("participants", space_id)
        return [MediaParticipant(identity=c.identity, sid=c.sid, role=c.role, publishing=c.publishing, muted=c.muted)
                for c in self.rooms.get(space_id, {}).values()]

    def dispatch_agent(self, space_id: str, agent_name: str, metadata: dict) -> bool:
        """One dispatch per (room, agent), as the real adapter's ``list_dispatch`` check keeps it."""
        self._server("dispatch_agent", space_id, agent_name)
        if (space_id, agent_name) in self.dispatches:
            return False
        self.dispatches[(space_id, agent_name)] = metadata
        return True

    def ping(self) -> None:
        self._server("ping")


@pytest.fixture(autouse=True)
def media(request, monkeypatch):
    """The media server every container builds in this test (see the module docstring)."""
    if "real_media" in request.fixturenames:
        yield None
        return
    fake = FakeLiveKit()
    monkeypatch.setattr(LiveKitMedia, "from_settings", classmethod(lambda cls, settings, secrets: fake))
    yield fake


@pytest.fixture
def real_media():
    """Opt out of the in-memory media server: the container builds the real adapter."""
    return True


# -- the real server --------------------------------------------------------------------------
def _unavailable(reason: str):
    unavailable("livekit-server", reason)


@dataclass
class LiveKitServer:
    url: str
    api_url: str
    api_key: str
    api_secret: str
    config_path: Path
    log_path: Path
    webhook_port: int


@pytest.fixture(scope="session")
def livekit_binary() -> str:
    return built_binary("livekit-server", ["bash", str(ROOT / "livekit" / "build.sh")])


@pytest.fixture(scope="session")
def livekit_server(livekit_binary, tmp_path_factory):
    """A real livekit-server on free loopback ports, with webhooks to a loopback port of ours."""
    webhook_port = free_port()
    try:
        started = start_livekit(livekit_binary, tmp_path_factory.mktemp("livekit"), api_key="airwaves-test",
                                api_secret=secrets.token_hex(24),
                                webhook_url=f"http://127.0.0.1:{webhook_port}/v1/webhooks/livekit")
    except StartFailed as exc:
        _unavailable(str(exc))
    yield LiveKitServer(url=started.url, api_url=started.api_url, api_key=started.api_key,
                        api_secret=started.api_secret, config_path=started.config_path,
                        log_path=started.server.log_path, webhook_port=webhook_port)
    started.server.stop()


# -- the API wired to the real server ---------------------------------------------------------
class LockedApi:
    """The test ``Api`` made safe to call from several threads (the test's own calls and the
    webhook forwarder): Chalice keeps the current request on the app object."""

    def __init__(self, api) -> None:
        self.api = api
        self.lock = threading.Lock()

    def call(self, *args, **kwargs):
        with self.lock:
            return self.api.call(*args, **kwargs)

    def make_user(self, *args, **kwargs):
        with self.lock:
            return self.api.make_user(*args, **kwargs)


class WebhookForwarder:
    """A loopback HTTP server that hands LiveKit's webhook deliveries to the in-process API."""

    def __init__(self, port: int) -> None:
        self.target: LockedApi | None = None
        self.delivered: list[tuple[int, dict | None]] = []
        forwarder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = forwarder.target
                if target is None:
                    status, payload = 200, b"{}"
                else:
                    headers = {"Content-Type": self.headers.get("Content-Type", "application/webhook+json")}
                    if self.headers.get("Authorization"):
                        headers["Authorization"] = self.headers["Authorization"]
                    res = target.call("POST", self.path, raw=body, headers=headers)
                    status, payload = res.status_code, (res.body or b"{}")
                    forwarder.delivered.append((status, res.json))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload if isinstance(payload, bytes) else payload.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, name="webhook-forwarder", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def webhook_forwarder(livekit_server):
    forwarder = WebhookForwarder(livekit_server.webhook_port)
    yield forwarder
    forwarder.close()


@pytest.fixture
def live_api(api, real_media, livekit_server, webhook_forwarder, monkeypatch):
    """The API (in process, on moto) using the real LiveKit server, and receiving its webhooks."""
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_LIVEKIT_URL", livekit_server.url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_URL", livekit_server.api_url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_KEY", livekit_server.api_key)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_SECRET", livekit_server.api_secret)
    reset_container()
    locked = LockedApi(api)
    webhook_forwarder.target = locked
    webhook_forwarder.delivered.clear()
    yield locked
    webhook_forwarder.target = None
