"""The local LiveKit config (``livekit/livekit.local.yaml``), optionally moved to other ports.

The local stack runs the file as it is; test fixtures and benchmarks render a copy on free
loopback ports with their own key name and webhook URL, so they exercise the same settings.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CONFIG = ROOT / "livekit" / "livekit.local.yaml"


def load_local_config() -> dict:
    return yaml.safe_load(LOCAL_CONFIG.read_text())


def render_local_config(*, port: int, tcp_port: int, udp_port: int, api_key: str,
                        webhook_url: str | None = None, redis_address: str | None = None) -> str:
    """The local config on other ports; ``webhook_url=None`` drops the webhook. ``redis_address``
    (``host:port``) makes the node one of a multi-node cluster: nodes sharing that Redis register
    there, rooms are placed on any of them and signalling is relayed to the room's node (the
    production config's routing, with the production node selector)."""
    config = load_local_config()
    config["port"] = port
    config["rtc"].update({"tcp_port": tcp_port, "udp_port": udp_port})
    if redis_address:
        config["redis"] = {"address": redis_address}
        production = yaml.safe_load((ROOT / "livekit" / "livekit.production.yaml").read_text())
        config["node_selector"] = production["node_selector"]
    if webhook_url:
        config["webhook"] = {"api_key": api_key, "urls": [webhook_url]}
    else:
        config.pop("webhook", None)
    return yaml.safe_dump(config, sort_keys=False)
