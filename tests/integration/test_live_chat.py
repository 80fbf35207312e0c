"""Messages, deletions, pins and blocks through a real livekit-server with real SDK clients, the
API in process on moto (see test_live_audio.py for the session and the event loop)."""
from __future__ import annotations

import asyncio

import pytest

from chalicelib.domain.chat import TOPIC_CHAT
from chalicelib.domain.pins import TOPIC_PIN
from tests.integration.audio_clients import Client, assert_tone, eventually, record
from tests.integration.test_live_audio import HOST_HZ, Session

pytestmark = pytest.mark.livekit


@pytest.fixture
def session(live_api, aio):
    s = Session(live_api)
    yield s
    aio.run(s.close())


def on(client: Client, topic: str) -> list[dict]:
    return [payload for t, payload in client.data if t == topic]


async def settle(seconds: float = 0.5) -> None:
    """Time for a packet that should not arrive to have arrived (reliable data on loopback takes
    milliseconds)."""
    await asyncio.sleep(seconds)


def test_a_message_reaches_every_connected_participant(session, aio):
    async def scenario():
        host = await session.open()
        alice, bob = await session.join("alice"), await session.join("bob")
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/messages", as_user="alice",
                                 body={"text": "hello everyone"})
        assert res.status_code == 201, res.json
        for client in (host, alice, bob):
            await eventually(lambda c=client: on(c, TOPIC_CHAT), 5, f"the message at {client.identity}")
            assert on(client, TOPIC_CHAT) == [res.json]

    aio.run(scenario())


def test_a_private_message_reaches_only_its_two_parties_and_so_does_its_deletion(session, aio):
    async def scenario():
        host = await session.open()
        await asyncio.to_thread(session.api.make_user, "bob")
        alice, bob, carol = await session.join("alice"), await session.join("bob"), await session.join("carol")
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/messages", as_user="alice",
                                 body={"text": "just for you", "to_user_id": "bob"})
        assert res.status_code == 201, res.json
        await eventually(lambda: on(bob, TOPIC_CHAT), 5, "the private message at bob")
        await eventually(lambda: on(alice, TOPIC_CHAT), 5, "the private message back at alice")
        public = await session.call("POST", f"/v1/spaces/{session.space_id}/messages", as_user="host",
                                    body={"text": "for all"})
        await eventually(lambda: len(on(carol, TOPIC_CHAT)) == 1, 5, "the public message at carol")
        await eventually(lambda: len(on(host, TOPIC_CHAT)) == 1, 5, "the public message at the host")
        await eventually(lambda: len(on(bob, TOPIC_CHAT)) == 2, 5, "the public message at bob")  # each on its own
        assert on(carol, TOPIC_CHAT) == [public.json]  # the private one never reached carol (it was sent first)
        assert on(host, TOPIC_CHAT) == [public.json]
        assert on(bob, TOPIC_CHAT) == [res.json, public.json]

        gone = await session.call("DELETE", f"/v1/spaces/{session.space_id}/messages/{res.json['id']}",
                                  as_user="alice")
        assert gone.status_code == 204
        notice = {"deleted": res.json["id"]}
        await eventually(lambda: notice in on(bob, TOPIC_CHAT), 5, "the deletion notice at bob")
        await eventually(lambda: notice in on(alice, TOPIC_CHAT), 5, "the deletion notice at alice")
        await settle()
        assert notice not in on(carol, TOPIC_CHAT) and notice not in on(host, TOPIC_CHAT)

    aio.run(scenario())


def test_a_deletion_notice_reaches_everyone(session, aio):
    async def scenario():
        host = await session.open()
        alice = await session.join("alice")
        sent = await session.call("POST", f"/v1/spaces/{session.space_id}/messages", as_user="alice",
                                  body={"text": "oops"})
        gone = await session.call("DELETE", f"/v1/spaces/{session.space_id}/messages/{sent.json['id']}",
                                  as_user="host")
        assert gone.status_code == 204
        for client in (host, alice):
            await eventually(lambda c=client: {"deleted": sent.json["id"]} in on(c, TOPIC_CHAT), 5,
                             f"the deletion notice at {client.identity}")

    aio.run(scenario())


def test_a_pin_notice_arrives(session, aio):
    async def scenario():
        await session.open()
        alice = await session.join("alice")
        res = await session.call("PUT", f"/v1/spaces/{session.space_id}/pin", as_user="host",
                                 body={"text": "Rules", "url": "https://example.com/rules"})
        assert res.status_code == 200, res.json
        await eventually(lambda: on(alice, TOPIC_PIN), 5, "the pin notice")
        assert on(alice, TOPIC_PIN) == [{"space_id": session.space_id, "pinned": res.json["pinned"]}]
        await session.call("DELETE", f"/v1/spaces/{session.space_id}/pin", as_user="host")
        await eventually(lambda: len(on(alice, TOPIC_PIN)) == 2, 5, "the unpin notice")
        assert on(alice, TOPIC_PIN)[-1] == {"space_id": session.space_id, "pinned": None}

    aio.run(scenario())


def test_a_listener_cannot_publish_data_itself(session, aio):
    async def scenario():
        host = await session.open()
        alice = await session.join("alice")
        assert alice.room.local_participant.permissions.can_publish_data is False
        try:
            await alice.room.local_participant.publish_data(b'{"text": "forged"}', reliable=True, topic=TOPIC_CHAT)
        except Exception:  # noqa: BLE001 - the SDK may refuse outright; either way nothing may arrive
            pass
        await settle(1.0)
        assert on(host, TOPIC_CHAT) == []

    aio.run(scenario())


def test_a_chat_muted_listener_gets_403_and_still_hears_the_host(session, aio):
    async def scenario():
        host = await session.open()
        alice = await session.join("alice")
        await session.play(host, HOST_HZ)
        muted = await session.call("PUT", f"/v1/spaces/{session.space_id}/chat-mutes/alice", as_user="host")
        assert muted.status_code == 200
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/messages", as_user="alice",
                                 body={"text": "can I talk?"})
        assert res.status_code == 403 and res.json["error"]["code"] == "chat_muted"
        track = await alice.wait_for_audio_from("host")
        assert_tone(await record(track, 0.5, settle=0.5), HOST_HZ, "the chat-muted listener")
        await settle()
        assert on(host, TOPIC_CHAT) == []

    aio.run(scenario())


def test_someone_the_host_blocked_cannot_join(session, aio):
    async def scenario():
        await session.open()
        await asyncio.to_thread(session.api.make_user, "troll")
        assert (await session.call("PUT", "/v1/me/blocks/troll", as_user="host")).status_code == 200
        res = await session.call("POST", f"/v1/spaces/{session.space_id}/join", as_user="troll")
        assert res.status_code == 403 and res.json["error"]["code"] == "banned"

    aio.run(scenario())
