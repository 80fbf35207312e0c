"""Two livekit-server nodes sharing Redis (``livekit_cluster``): the production routing, real audio.

The API talks to node 0 only (``cluster_api``), as production talks to the load balancer: Spaces
land on either node (the production node selector), every room call the API makes reaches the
room whichever node holds it, and a client whose signalling goes through the node that does not
hold its room is relayed there and hears (and is heard by) the others. A third node that is
asked to stop drains: it takes no new rooms, keeps its participants until their Space ends, then
leaves the cluster.
"""
from __future__ import annotations

import asyncio
import signal

import pytest

from tests.integration.audio_clients import Client, Tone, assert_tone, connect, eventually, record
from tests.processes import livekit_node_id, start_livekit, wait_until

pytestmark = pytest.mark.livekit

HOST_HZ, SPEAKER_HZ = 440.0, 660.0
MAX_SPACES = 12  # Spaces opened at most to see rooms on every node (random placement: 2^-11 to miss one)


class ClusterSession:
    def __init__(self, api, cluster) -> None:
        self.api, self.cluster = api, cluster
        self.clients: list[Client] = []
        self.tones: list[Tone] = []
        self.spaces: list[str] = []

    async def call(self, method: str, path: str, **kwargs):
        return await asyncio.to_thread(self.api.call, method, path, **kwargs)

    async def open_space(self, host: str) -> tuple[str, dict]:
        await asyncio.to_thread(self.api.make_user, host, 1000)
        res = await self.call("POST", "/v1/spaces", as_user=host, body={"title": "Two nodes"})
        assert res.status_code == 201, res.json
        self.spaces.append(res.json["id"])
        return res.json["id"], res.json["join"]

    async def spaces_on(self, nodes: set[int], host: str = "host") -> dict[int, tuple[str, dict]]:
        """Open Spaces (one host) until each of ``nodes`` holds one: node index -> (space, host join)."""
        placed: dict[int, tuple[str, dict]] = {}
        for _ in range(MAX_SPACES):
            space_id, join = await self.open_space(host)
            placed.setdefault(self.cluster.node_of(space_id), (space_id, join))
            if set(placed) >= nodes:
                return placed
        raise AssertionError(f"{MAX_SPACES} Spaces all landed on nodes {sorted(placed)}, never on all of {nodes}")

    async def connect(self, join: dict, node) -> Client:
        """Connect with an API-issued join through ``node`` (whatever URL the API answered)."""
        assert join["livekit_url"].startswith("ws://127.0.0.1:")
        client = await connect(node.url, join["token"])
        self.clients.append(client)
        return client

    async def play(self, client: Client, hz: float) -> Tone:
        tone = Tone(hz)
        self.tones.append(tone)
        await tone.publish(client)
        return tone

    async def close(self) -> None:
        for tone in self.tones:
            await tone.stop()
        for client in self.clients:
            await client.close()
        for space_id in self.spaces:
            await self.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")


@pytest.fixture
def session(cluster_api, livekit_cluster, aio, monkeypatch):
    from chalicelib.container import reset_container

    # Room placement needs many rooms open at once from one host: raise the per-host live cap
    # (a setting, default 1) for this module rather than inventing a host per room.
    monkeypatch.setenv("AIRWAVES_MAX_LIVE_SPACES_PER_HOST", "50")
    reset_container()
    s = ClusterSession(cluster_api, livekit_cluster)
    yield s
    aio.run(s.close())


async def hears(client: Client, identity: str, hz: float) -> None:
    pcm = await record(await client.wait_for_audio_from(identity, timeout=20), 1.0, settle=0.5)
    assert_tone(pcm, hz, f"{client.identity} hearing {identity}")


def test_both_nodes_register_in_redis(livekit_cluster):
    assert len(set(livekit_cluster.node_ids)) == 2
    assert livekit_cluster.registered() >= set(livekit_cluster.node_ids)


def test_spaces_land_on_both_nodes_and_every_room_call_reaches_them_through_node_0(session, livekit_cluster, aio):
    cluster = livekit_cluster

    async def scenario():
        placed = await session.spaces_on({0, 1})
        for holder, (space_id, host_join) in sorted(placed.items()):
            other = cluster.nodes[1 - holder]
            # the host's signalling goes through the node that does not hold the room: relayed
            host = await session.connect(host_join, other)
            await session.play(host, HOST_HZ)
            join = await session.call("POST", f"/v1/spaces/{space_id}/join", as_user=f"alice{holder}")
            assert join.status_code == 200 and join.json["role"] == "listener", join.json
            listener = await session.connect(join.json, cluster.nodes[holder])
            await hears(listener, "host", HOST_HZ)

            # update participant (promotion) through node 0, then the two hear each other
            res = await session.call("PUT", f"/v1/spaces/{space_id}/speakers/alice{holder}", as_user="host")
            assert res.status_code == 200 and res.json["live"] is True, res.json
            await asyncio.wait_for(listener.permissions.wait(), 10)
            await session.play(listener, SPEAKER_HZ)
            await hears(host, f"alice{holder}", SPEAKER_HZ)

            # list participants
            roster = (await session.call("GET", f"/v1/spaces/{space_id}/participants", as_user="host")).json
            assert {p["user_id"] for p in roster["speakers"]} == {f"alice{holder}"}, roster

            # send data: a reaction reaches a client on either node
            res = await session.call("POST", f"/v1/spaces/{space_id}/reactions", as_user="host", body={"emoji": "🔥"})
            assert res.status_code == 201, res.json
            for client in (host, listener):
                await eventually(lambda c=client: any(p.get("emoji") == "🔥" for _, p in c.data), 10, "the reaction")

            # remove participant
            res = await session.call("POST", f"/v1/spaces/{space_id}/participants/alice{holder}/remove",
                                     as_user="host")
            assert res.status_code == 200 and res.json["disconnected"] is True, res.json
            await asyncio.wait_for(listener.disconnected.wait(), 10)

            # delete room: ending the Space disconnects the host and frees the routing entry
            res = await session.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
            assert res.status_code == 200 and res.json["state"] == "ended"
            await asyncio.wait_for(host.disconnected.wait(), 10)
            await eventually(lambda s=space_id: s not in cluster.room_nodes(), 10, "the room's routing entry to go")

    aio.run(scenario())


def test_a_stopping_node_drains_takes_no_new_rooms_and_leaves_when_its_spaces_end(session, livekit_cluster,
                                                                                  livekit_binary, aio):
    cluster = livekit_cluster
    extra = start_livekit(livekit_binary, cluster.workdir, api_key=cluster.api_key, api_secret=cluster.api_secret,
                          redis_address=cluster.redis.address, name="node-drained")
    try:
        extra_id = livekit_node_id(extra)
        assert wait_until(lambda: extra_id in cluster.registered(), 30, every=0.2)
        cluster.nodes.append(extra)
        cluster.node_ids.append(extra_id)

        async def scenario():
            space_id, host_join = (await session.spaces_on({2}))[2]
            host = await session.connect(host_join, cluster.nodes[0])
            await session.play(host, HOST_HZ)
            join = (await session.call("POST", f"/v1/spaces/{space_id}/join", as_user="bob")).json
            listener = await session.connect(join, extra)
            await hears(listener, "host", HOST_HZ)

            extra.server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            assert extra.server.process.poll() is None, "a node with participants must drain, not exit"
            for _ in range(10):  # with 3 nodes at random, 10 rooms all missing a live node: 1.7%
                new_space, _ = await session.open_space("host")
                assert cluster.node_of(new_space) != 2, "a draining node took a new room"
            await hears(listener, "host", HOST_HZ)  # its listener is still served

            res = await session.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
            assert res.status_code == 200
            await asyncio.wait_for(listener.disconnected.wait(), 10)
            # the drain loop checks for participants every 5 s
            await asyncio.to_thread(extra.server.process.wait, 30)
            assert extra_id not in cluster.registered()

        aio.run(scenario())
    finally:
        if extra in cluster.nodes:
            cluster.node_ids.pop(cluster.nodes.index(extra))
            cluster.nodes.remove(extra)
        extra.server.stop()
