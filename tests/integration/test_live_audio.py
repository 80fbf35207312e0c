"""Real audio through a real livekit-server, with tokens from the API (in process, on moto).

Every test drives the one session event loop (``aio.run``); API calls run in a worker thread so
the loop keeps serving the SDK while the API talks to LiveKit.
"""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from livekit import rtc
from tests.integration.audio_clients import (
    Client,
    Picture,
    Tone,
    assert_quiet,
    assert_tone,
    connect,
    eventually,
    record,
)

pytestmark = pytest.mark.livekit

HOST_HZ, SPEAKER_HZ = 440.0, 660.0
SETTLE = 0.5  # seconds a change (a subscription, a mute) may take to reach the ear before every window must hold


class Session:
    """A live Space, its host connected, and helpers to call the API from the loop."""

    def __init__(self, api) -> None:
        self.api = api
        self.space_id = ""
        self.clients: list[Client] = []
        self.tones: list[Tone] = []

    async def call(self, method: str, path: str, **kwargs):
        return await asyncio.to_thread(self.api.call, method, path, **kwargs)

    async def open(self) -> Client:
        await asyncio.to_thread(self.api.make_user, "host", 1000)
        res = await self.call("POST", "/v1/spaces", as_user="host", body={"title": "Real audio"})
        assert res.status_code == 201, res.json
        self.space_id = res.json["id"]
        join = res.json["join"]
        assert join["role"] == "host"
        return await self.connect_with(join)

    async def open_with_speaker_and_listener(self) -> tuple[Client, Client, Client]:
        """The host, ``alice`` invited on stage, and ``bob`` listening, all connected."""
        host = await self.open()
        res = await self.call("PUT", f"/v1/spaces/{self.space_id}/speakers/alice", as_user="host")
        assert res.status_code == 200, res.json
        return host, await self.join("alice"), await self.join("bob")

    async def join(self, user: str) -> Client:
        res = await self.call("POST", f"/v1/spaces/{self.space_id}/join", as_user=user)
        assert res.status_code == 200, res.json
        return await self.connect_with(res.json)

    async def connect_with(self, join: dict) -> Client:
        client = await connect(join["livekit_url"], join["token"])
        self.clients.append(client)
        return client

    async def play(self, client: Client, hz: float) -> Tone:
        tone = Tone(hz)
        self.tones.append(tone)
        await tone.publish(client)
        return tone

    async def space(self) -> dict:
        return (await self.call("GET", f"/v1/spaces/{self.space_id}", as_user="observer")).json

    async def close(self) -> None:
        for tone in self.tones:
            await tone.stop()
        for client in self.clients:
            await client.close()


@pytest.fixture
def session(live_api, aio):
    s = Session(live_api)
    yield s
    aio.run(s.close())


def test_going_live_opens_the_room_with_the_configured_timeouts(session, aio, livekit_server):
    from livekit import api as lk

    async def scenario():
        await session.open()
        server = lk.LiveKitAPI(livekit_server.api_url, livekit_server.api_key, livekit_server.api_secret)
        try:
            rooms = (await server.room.list_rooms(lk.ListRoomsRequest(names=[session.space_id]))).rooms
        finally:
            await server.aclose()
        assert [(r.name, r.empty_timeout, r.departure_timeout) for r in rooms] == [(session.space_id, 300, 60)]
        health = (await session.call("GET", "/v1/health")).json
        assert health["dependencies"]["livekit"]["status"] == "ok"

    aio.run(scenario())


def test_a_listener_hears_the_hosts_tone(session, aio):
    async def scenario():
        host = await session.open()
        listener = await session.join("alice")
        assert listener.room.local_participant.permissions.can_publish is False
        await session.play(host, HOST_HZ)
        track = await listener.wait_for_audio_from("host")
        assert_tone(await record(track, 1.0, settle=SETTLE), HOST_HZ, "the listener")

    aio.run(scenario())


def test_a_listener_cannot_publish_until_promoted_then_the_host_hears_it(session, aio):
    async def scenario():
        host = await session.open()
        listener = await session.join("alice")
        await session.play(host, HOST_HZ)
        await listener.wait_for_audio_from("host")

        # the listener's own attempt never reaches anyone
        attempt = Tone(SPEAKER_HZ)
        session.tones.append(attempt)
        with pytest.raises(Exception, match=r"(?i)publication|permission|timed out"):
            await attempt.publish(listener)
        await asyncio.sleep(1.0)
        assert "alice" not in host.audio
        roster = (await session.call("GET", f"/v1/spaces/{session.space_id}/participants", as_user="host")).json
        assert [p["user_id"] for p in roster["listeners"]] == ["alice"]
        assert roster["listeners"][0]["publishing"] is False
        await attempt.stop()

        # promoted through the API, the same connection may publish at once
        res = await session.call("PUT", f"/v1/spaces/{session.space_id}/speakers/alice", as_user="host")
        assert res.status_code == 200 and res.json["live"] is True, res.json
        await asyncio.wait_for(listener.permissions.wait(), 10)
        permissions = listener.room.local_participant.permissions
        assert permissions.can_publish and list(permissions.can_publish_sources) == [
            rtc.TrackSource.SOURCE_MICROPHONE]
        assert not permissions.can_publish_data
        await session.play(listener, SPEAKER_HZ)
        track = await host.wait_for_audio_from("alice")
        assert_tone(await record(track, 1.0, settle=SETTLE), SPEAKER_HZ, "the host")

        # demoted again, the server takes the microphone away from the open connection
        res = await session.call("DELETE", f"/v1/spaces/{session.space_id}/speakers/alice", as_user="host")
        assert res.status_code == 200 and res.json["live"] is True
        await eventually(lambda: not listener.room.local_participant.permissions.can_publish, 10, "demotion")
        roster_ok = False
        for _ in range(100):
            roster = (await session.call("GET", f"/v1/spaces/{session.space_id}/participants",
                                         as_user="host")).json
            if roster["listeners"] and roster["listeners"][0]["publishing"] is False:
                roster_ok = True
                break
            await asyncio.sleep(0.1)
        assert roster_ok, roster

    aio.run(scenario())


def test_removal_disconnects_and_rejoining_is_banned(session, aio):
    async def scenario():
        await session.open()
        listener = await session.join("mallory")
        old = await session.call("POST", f"/v1/spaces/{session.space_id}/join", as_user="mallory")
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/participants/mallory/remove",
                                 as_user="host")
        assert res.status_code == 200 and res.json["disconnected"] is True
        await asyncio.wait_for(listener.disconnected.wait(), 10)
        rejoin = await session.call("POST", f"/v1/spaces/{session.space_id}/join", as_user="mallory")
        assert rejoin.status_code == 403 and rejoin.json["error"]["code"] == "banned"

        # a token minted before the ban still connects, but the join webhook removes it at once
        sneaky = await session.connect_with(old.json)
        await asyncio.wait_for(sneaky.disconnected.wait(), 15)

    aio.run(scenario())


def test_ending_the_space_disconnects_everyone(session, aio):
    async def scenario():
        host = await session.open()
        listeners = [await session.join(u) for u in ("a1", "a2")]
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/end", as_user="host")
        assert res.status_code == 200 and res.json["state"] == "ended"
        for client in [host, *listeners]:
            await asyncio.wait_for(client.disconnected.wait(), 10)
        late = await session.call("POST", f"/v1/spaces/{session.space_id}/join", as_user="a1")
        assert late.status_code == 409 and late.json["error"]["code"] == "invalid_state"

    aio.run(scenario())


def test_webhooks_keep_the_listener_count(session, aio):
    async def scenario():
        host = await session.open()
        a = await session.join("a")
        b = await session.join("b")

        async def counts():
            s = await session.space()
            return s["listener_count"], s["peak_listener_count"]

        for _ in range(100):
            if await counts() == (3, 3):
                break
            await asyncio.sleep(0.1)
        assert await counts() == (3, 3)
        await b.close()
        for _ in range(100):
            if await counts() == (2, 3):
                break
            await asyncio.sleep(0.1)
        assert await counts() == (2, 3)
        assert host.room.isconnected() and a.room.isconnected()

    aio.run(scenario())


def test_a_host_mutes_a_speaker_and_the_listener_hears_silence_until_the_speaker_unmutes(session, aio):
    """The contract: a moderator can silence a microphone, never open one, and the speaker may
    turn it back on. Each part is heard in every window after ``SETTLE``, not on average."""
    async def scenario():
        host, speaker, listener = await session.open_with_speaker_and_listener()
        tone = await session.play(speaker, SPEAKER_HZ)
        track = await listener.wait_for_audio_from("alice")
        assert_tone(await record(track, 1.0, settle=SETTLE), SPEAKER_HZ, "before the mute")

        res = await session.call("POST", f"/v1/spaces/{session.space_id}/participants/alice/mute", as_user="host")
        assert res.status_code == 200 and res.json["muted"] is True, res.json
        await eventually(lambda: "alice" in listener.muted, 10, "the mute to reach the listener")
        await eventually(lambda: tone.track.muted, 10, "the speaker's client to see its microphone muted")
        assert_quiet(await record(track, 2.0, settle=SETTLE), "after the mute")
        assert "alice" in host.muted
        mute = f"/v1/spaces/{session.space_id}/participants/alice/mute"
        again = await session.call("POST", mute, as_user="host")  # the server reads it muted: nothing to log
        assert again.status_code == 200 and again.json["muted"] is True

        tone.track.unmute()
        assert_tone(await record(track, 1.0, settle=SETTLE), SPEAKER_HZ, "after the speaker unmuted")
        assert (await session.call("POST", mute, as_user="host")).status_code == 200  # open again: a new mute
        log = await session.call("GET", f"/v1/spaces/{session.space_id}/moderation-log", as_user="host")
        assert [(e["action"], e["target_user_id"]) for e in log.json["items"]] == [("microphone_mute", "alice")] * 2

    aio.run(scenario())


def test_hand_raises_and_reactions_reach_the_room(session, aio):
    async def scenario():
        host = await session.open()
        listener = await session.join("alice")

        res = await session.call("POST", f"/v1/spaces/{session.space_id}/speak-requests", as_user="alice")
        assert res.status_code == 201
        await eventually(lambda: any(t == "airwaves.speak_requests" for t, _ in host.data), 10, "a hand-raise notice")
        assert next(p for t, p in host.data if t == "airwaves.speak_requests")["user_id"] == "alice"
        assert not any(t == "airwaves.speak_requests" for t, _ in listener.data), "notices go to moderators only"

        res = await session.call("POST", f"/v1/spaces/{session.space_id}/reactions", as_user="alice",
                                 body={"emoji": "🔥"})
        assert res.status_code == 201
        for client in (host, listener):
            await eventually(lambda c=client: any(t == "airwaves.reactions" for t, _ in c.data), 10, "a reaction")
        _topic, payload = next(d for d in host.data if d[0] == "airwaves.reactions")
        assert payload["emoji"] == "🔥" and payload["user_id"] == "alice"

    aio.run(scenario())


def test_a_server_that_refuses_our_key_is_503(live_api, aio, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_SECRET", "not-the-secret-" + "x" * 32)
    reset_container()
    live_api.make_user("host", 1000)
    res = live_api.call("POST", "/v1/spaces", as_user="host", body={"title": "Refused"})
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    assert res.json["error"]["details"]["upstream"] == "livekit"
    assert live_api.call("GET", "/v1/spaces?state=live", as_user="x").json["items"] == []
    assert live_api.call("GET", "/v1/health").json["dependencies"]["livekit"]["status"] == "down"


def test_listeners_join_hidden_yet_the_roster_and_counts_stay_exact(session, aio):
    """Listeners join hidden (bench_scale: no participant update fanned out to every listener per
    join); the API's roster and counts still see them, and a promoted listener becomes visible."""
    async def scenario():
        host = await session.open()
        listener = await session.join("alice")
        await session.play(host, HOST_HZ)
        await listener.wait_for_audio_from("host")
        assert "host" in listener.room.remote_participants
        await asyncio.sleep(5.0)  # a visible listener shows up at the host within ~1.5 s (batched updates)
        assert "alice" not in host.room.remote_participants, "a listener must join hidden"
        roster = (await session.call("GET", f"/v1/spaces/{session.space_id}/participants", as_user="host")).json
        assert [p["user_id"] for p in roster["listeners"]] == ["alice"]
        for _ in range(100):
            if (await session.space())["listener_count"] == 2:
                break
            await asyncio.sleep(0.1)
        assert (await session.space())["listener_count"] == 2

        res = await session.call("PUT", f"/v1/spaces/{session.space_id}/speakers/alice", as_user="host")
        assert res.status_code == 200 and res.json["live"] is True, res.json
        await asyncio.wait_for(listener.permissions.wait(), 10)
        await session.play(listener, SPEAKER_HZ)
        await host.wait_for_audio_from("alice")
        assert "alice" in host.room.remote_participants

    aio.run(scenario())


def test_spaces_are_audio_only_whatever_a_speaker_publishes(session, aio, livekit_server):
    """A speaker's client publishing video: as a camera it is refused by the token's sources; labelled
    as the microphone, the server's audio-only codec list rejects it at negotiation (and the
    track_published webhook would mute it on the server as a backstop). No listener receives a video
    track; the listener still hears the host."""
    from livekit import api as lk

    async def scenario():
        host, speaker, listener = await session.open_with_speaker_and_listener()
        await session.play(host, HOST_HZ)
        await listener.wait_for_audio_from("host")

        camera = Picture(rtc.TrackSource.SOURCE_CAMERA, name="camera")
        with pytest.raises(Exception, match=r"(?i)publication|permission|timed out|not allowed"):
            await camera.publish(speaker)
        await camera.stop()

        disguised = Picture(rtc.TrackSource.SOURCE_MICROPHONE)
        with contextlib.suppress(Exception):  # a refusal at publish time is a pass too
            await disguised.publish(speaker)
        await asyncio.sleep(2.0)  # time for anything that would arrive to arrive
        server = lk.LiveKitAPI(livekit_server.api_url, livekit_server.api_key, livekit_server.api_secret)
        try:
            who = await server.room.get_participant(lk.RoomParticipantIdentity(room=session.space_id,
                                                                               identity="alice"))
        finally:
            await server.aclose()
        await disguised.stop()
        video = [t for t in who.tracks if t.type != lk.TrackType.AUDIO]
        assert all(t.muted for t in video), f"the server forwards a video track: {video}"
        alice = listener.room.remote_participants.get("alice")
        received = [p.sid for p in (alice.track_publications.values() if alice else [])
                    if p.kind == rtc.TrackKind.KIND_VIDEO and p.track is not None]
        assert not received, f"a listener received video: {received}"
        assert_tone(await record(listener.audio["host"], 0.5), HOST_HZ, "audio still flows")

    aio.run(scenario())
