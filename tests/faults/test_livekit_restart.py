"""livekit-server (a real process) SIGKILLed mid-Space and started again: its rooms are gone and it
sends no webhook, so the Space is still ``live`` in our table. Chosen behaviour: the room comes
back. A host's or co-host's join re-opens it (``JoinService.join``), after which listeners rejoin.

| fault                              | the caller sees                         | stored / on the media server     |
|------------------------------------|-----------------------------------------|----------------------------------|
| LiveKit killed and restarted       | the Space still live; joins answer 200  | no room until a moderator joins  |
| the host asks for credentials      | 200 with a token                        | the room exists again, with our  |
|                                    |                                         | empty/departure timeouts         |
| LiveKit down when the host rejoins | 200 with a token (nothing to re-open)   | nothing changed                  |

LiveKit down during go-live, promotion, removal and end (503, state as on the media server) is
covered by ``tests/api/test_media_unavailable.py`` (in-memory and real adapters).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import signal

import pytest

from tests.processes import StartFailed, http_ok, start_livekit, start_server
from tests.real_servers import unavailable

pytestmark = pytest.mark.livekit


class OwnLiveKit:
    def __init__(self, binary: str, workdir) -> None:
        self.binary = binary
        try:
            self.process = start_livekit(binary, workdir, api_key="airwaves-faults", api_secret=secrets.token_hex(24))
        except StartFailed as exc:
            unavailable("livekit-server", str(exc))

    def kill(self) -> None:
        os.kill(self.process.server.process.pid, signal.SIGKILL)
        self.process.server.process.wait(timeout=10)

    def restart(self) -> None:
        """The same binary, config and ports again (a restart, as a supervisor does)."""
        self.process.server = start_server(
            [self.binary, "--config", str(self.process.config_path)],
            ready=lambda _: http_ok(self.process.api_url + "/"), log_path=self.process.config_path.parent / "again.log",
            env={"LIVEKIT_KEYS": f"{self.process.api_key}: {self.process.api_secret}"})

    def rooms(self) -> dict[str, object]:
        from livekit import api

        async def listed():
            async with api.LiveKitAPI(self.process.api_url, self.process.api_key, self.process.api_secret) as lk:
                return (await lk.room.list_rooms(api.ListRoomsRequest())).rooms

        return {r.name: r for r in asyncio.run(listed())}


@pytest.fixture
def livekit(livekit_binary, tmp_path, api, real_media, monkeypatch):
    from chalicelib.container import reset_container

    own = OwnLiveKit(livekit_binary, tmp_path)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_URL", own.process.url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_URL", own.process.api_url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_KEY", own.process.api_key)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_SECRET", own.process.api_secret)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_TIMEOUT_SECONDS", "2")
    reset_container()
    yield own
    own.process.server.stop()


def test_a_restarted_livekit_gets_the_room_back_when_the_host_rejoins(api, livekit):
    api.make_user("host", 1000)
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Live"}).json["id"]
    assert sid in livekit.rooms()

    livekit.kill()
    livekit.restart()
    assert sid not in livekit.rooms()  # its rooms died with it
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["state"] == "live"
    assert api.call("POST", f"/v1/spaces/{sid}/join", as_user="alice").status_code == 200  # signed locally
    assert sid not in livekit.rooms()  # a listener cannot bring it back

    res = api.call("POST", f"/v1/spaces/{sid}/join", as_user="host")
    assert res.status_code == 200 and res.json["token"]
    room = livekit.rooms()[sid]
    assert room.empty_timeout == 300 and room.departure_timeout == 60  # opened as go-live opens it
    assert api.call("POST", f"/v1/spaces/{sid}/join", as_user="host").status_code == 200  # idempotent
    assert list(livekit.rooms()) == [sid]


def test_the_host_still_gets_a_token_while_livekit_is_down(api, livekit):
    api.make_user("host", 1000)
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Live"}).json["id"]
    livekit.kill()
    res = api.call("POST", f"/v1/spaces/{sid}/join", as_user="host")
    assert res.status_code == 200 and res.json["token"]
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["state"] == "live"
    ended = api.call("POST", f"/v1/spaces/{sid}/end", as_user="host")
    assert ended.status_code == 503 and ended.json["error"]["code"] == "upstream_unavailable"
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="x").json["state"] == "live"  # as on the media server
    livekit.restart()
    assert api.call("POST", f"/v1/spaces/{sid}/end", as_user="host").status_code == 200
