"""Two real livekit-server nodes sharing a real Redis: the production routing on loopback.

``redis_binary`` is Debian's ``redis-server`` (``make servers`` installs it when it can); missing,
it fails the run under ``CI=true`` and skips the tests that need it elsewhere. ``livekit_cluster``
starts Redis and two nodes of the same pinned build, each on its own free ports, with the local
config plus the production config's ``redis`` routing and node selector. Both nodes send their
webhooks to one loopback port (``cluster_webhooks`` hands them to the API under test).
"""
from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_livekit import LockedApi, WebhookForwarder
from tests.processes import (
    LiveKitProcess,
    RedisProcess,
    StartFailed,
    free_port,
    livekit_node_id,
    start_livekit,
    start_redis,
    wait_until,
)
from tests.real_servers import unavailable

NODES = 2


@dataclass
class LiveKitCluster:
    redis: RedisProcess
    nodes: list[LiveKitProcess]
    node_ids: list[str]
    api_key: str
    api_secret: str
    webhook_port: int
    workdir: Path

    def registered(self) -> set[str]:
        """Node IDs registered in Redis right now."""
        return set(self.redis.command("HKEYS", "nodes"))

    def room_nodes(self) -> dict[str, str]:
        """Room name -> the ID of the node that holds it, as the routing table in Redis says."""
        flat = self.redis.command("HGETALL", "room_node_map")
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def node_of(self, room: str) -> int:
        """Index in ``nodes`` of the node holding ``room``."""
        return self.node_ids.index(self.room_nodes()[room])


@pytest.fixture(scope="session")
def redis_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).exists()), None)
    if not found or not Path(found).with_name("redis-cli").exists():
        unavailable("redis-server", "not installed (make servers installs Debian's redis-server as root)")
    return found


@pytest.fixture(scope="session")
def livekit_cluster(livekit_binary, redis_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cluster")
    key, secret, webhook_port = "airwaves-cluster", secrets.token_hex(24), free_port()
    started: list[LiveKitProcess] = []
    redis = None
    try:
        redis = start_redis(redis_binary, workdir)
        for n in range(NODES):
            started.append(start_livekit(livekit_binary, workdir, api_key=key, api_secret=secret,
                                         webhook_url=f"http://127.0.0.1:{webhook_port}/v1/webhooks/livekit",
                                         redis_address=redis.address, name=f"node{n}"))
        ids = [livekit_node_id(node) for node in started]
        if not wait_until(lambda: redis.command("HKEYS", "nodes") and set(redis.command("HKEYS", "nodes")) >= set(ids),
                          30, every=0.2):
            raise StartFailed(f"nodes {ids} did not all register in Redis: {redis.command('HKEYS', 'nodes')}")
    except StartFailed as exc:
        for node in started:
            node.server.stop()
        if redis:
            redis.server.stop()
        unavailable("livekit cluster", str(exc))
    yield LiveKitCluster(redis, started, ids, key, secret, webhook_port, workdir)
    for node in started:
        node.server.stop()
    redis.server.stop()


@pytest.fixture(scope="session")
def cluster_webhooks(livekit_cluster):
    forwarder = WebhookForwarder(livekit_cluster.webhook_port)
    yield forwarder
    forwarder.close()


@pytest.fixture
def cluster_api(api, real_media, livekit_cluster, cluster_webhooks, monkeypatch):
    """The API (in process, on moto) whose server calls and client URL go to node 0 only: every
    room call reaches a room on node 1 through node 0's routing. Receives both nodes' webhooks."""
    from chalicelib.container import reset_container

    first = livekit_cluster.nodes[0]
    monkeypatch.setenv("AIRWAVES_LIVEKIT_URL", first.url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_URL", first.api_url)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_KEY", livekit_cluster.api_key)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_SECRET", livekit_cluster.api_secret)
    reset_container()
    locked = LockedApi(api)
    cluster_webhooks.target = locked
    cluster_webhooks.delivered.clear()
    yield locked
    cluster_webhooks.target = None
