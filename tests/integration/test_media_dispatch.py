"""The real LiveKit adapter dispatches the media worker through the server's AgentDispatchService,
once per room however often it is asked (issue 13)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.livekit import LiveKitMedia
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.secrets import StaticSecrets


def adapter(server, *, url: str | None = None) -> LiveKitMedia:
    secrets = StaticSecrets({"livekit_api_key": server.api_key, "livekit_api_secret": server.api_secret})
    return LiveKitMedia(secrets, client_url=url or server.url, api_url=url or server.api_url,
                        token_ttl=timedelta(minutes=5), empty_timeout=60, departure_timeout=10)


def test_dispatch_is_created_once_per_room(livekit_server, real_media, aio):
    from livekit import api

    media = adapter(livekit_server)
    room = "sp_dispatch_probe"
    media.create_room(room)
    try:
        assert media.dispatch_agent(room, "airwaves-media", {"space_id": room}) is True
        assert media.dispatch_agent(room, "airwaves-media", {"space_id": room}) is False

        async def listed() -> list:
            client = api.LiveKitAPI(livekit_server.api_url, livekit_server.api_key, livekit_server.api_secret)
            try:
                return await client.agent_dispatch.list_dispatch(room_name=room)
            finally:
                await client.aclose()

        # the server also lists its implicit automatic-dispatch entry (no agent name); ours is one
        named = [(d.agent_name, d.metadata) for d in aio.run(listed()) if d.agent_name]
        assert named == [("airwaves-media", '{"space_id": "sp_dispatch_probe"}')]
    finally:
        media.delete_room(room)


def test_an_unreachable_server_is_upstream_unavailable(livekit_server, real_media):
    from tests.processes import free_port

    media = adapter(livekit_server, url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamUnavailable):
        media.dispatch_agent("sp_x", "airwaves-media", {"space_id": "sp_x"})
