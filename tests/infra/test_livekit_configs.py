"""The LiveKit configs: the local one is loopback-only with keys from the environment and
webhooks to the local API; rendered copies move only ports, key name and webhook; the pinned
build; and the local stack registers the server."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from infra.local.livekit_config import LOCAL_CONFIG, load_local_config, render_local_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_local_config_is_loopback_only_and_matches_the_local_stage():
    config = load_local_config()
    assert config["port"] == 7880 and config["bind_addresses"] == ["127.0.0.1"]
    rtc = config["rtc"]
    assert rtc["node_ip"] == "127.0.0.1" and rtc["use_external_ip"] is False
    assert rtc["enable_loopback_candidate"] is True
    assert rtc["udp_port"] == 7882 and rtc["tcp_port"] == 7881
    assert "keys" not in config and "key_file" not in config, "keys come from LIVEKIT_KEYS, not the file"
    assert config["webhook"]["urls"] == ["http://127.0.0.1:8000/v1/webhooks/livekit"]
    stage = json.loads((ROOT / "chalicefile.json").read_text())["stages"]["local"]["environment_variables"]
    assert config["webhook"]["api_key"] == stage["AIRWAVES_LIVEKIT_API_KEY"]
    assert stage["AIRWAVES_LIVEKIT_URL"] == "ws://127.0.0.1:7880"
    assert len(stage["AIRWAVES_LIVEKIT_API_SECRET"]) >= 32  # livekit-server warns below 32
    assert config["room"]["auto_create"] is False


def test_the_room_timeouts_match_the_settings_defaults():
    from chalicelib.settings import Settings

    room = load_local_config()["room"]
    fields = Settings.model_fields
    assert room["empty_timeout"] == fields["livekit_empty_timeout_seconds"].default
    assert room["departure_timeout"] == fields["livekit_departure_timeout_seconds"].default


def test_a_rendered_copy_changes_only_ports_key_and_webhook():
    original = load_local_config()
    rendered = yaml.safe_load(render_local_config(port=17880, tcp_port=17881, udp_port=17882, api_key="k",
                                                  webhook_url="http://127.0.0.1:9/hook"))
    assert rendered["port"] == 17880
    assert rendered["rtc"] == {**original["rtc"], "tcp_port": 17881, "udp_port": 17882}
    assert rendered["webhook"] == {"api_key": "k", "urls": ["http://127.0.0.1:9/hook"]}
    assert {k: v for k, v in rendered.items() if k not in ("port", "rtc", "webhook")} == \
        {k: v for k, v in original.items() if k not in ("port", "rtc", "webhook")}
    quiet = yaml.safe_load(render_local_config(port=1, tcp_port=2, udp_port=3, api_key="k"))
    assert "webhook" not in quiet
    assert "redis" not in quiet and "node_selector" not in quiet


def test_a_cluster_node_copy_routes_through_redis_with_the_production_selector():
    production = yaml.safe_load((ROOT / "livekit" / "livekit.production.yaml").read_text())
    node = yaml.safe_load(render_local_config(port=1, tcp_port=2, udp_port=3, api_key="k",
                                              redis_address="127.0.0.1:6390"))
    assert node["redis"] == {"address": "127.0.0.1:6390"}
    assert node["node_selector"] == production["node_selector"]
    assert node["rtc"]["node_ip"] == "127.0.0.1"


def test_the_build_is_pinned_to_the_go_module():
    script = (ROOT / "livekit" / "build.sh").read_text()
    assert 'LIVEKIT_VERSION:-v1.13.5' in script
    assert "github.com/livekit/livekit-server/cmd/server" in script


def test_the_local_stack_runs_livekit_at_7880_with_env_keys(monkeypatch):
    import infra.local.livekit_server as module
    from infra.local.stack import SERVERS

    server = next(s for s in SERVERS if s.name == "livekit")
    assert server.url == "ws://127.0.0.1:7880"
    monkeypatch.setattr(module, "binary", lambda: "/cache/livekit-server")
    assert server.command() == ["/cache/livekit-server", "--config", str(LOCAL_CONFIG)]
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_KEY", "airwaves-local")
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_SECRET", "s" * 40)
    assert server.env() == {"LIVEKIT_KEYS": "airwaves-local: " + "s" * 40}
    extensions = (ROOT / "infra" / "local" / "extensions.py").read_text()
    assert "import infra.local.livekit_server" in extensions


def test_the_local_stack_runs_two_nodes_and_redis_behind_a_setting(monkeypatch):
    import infra.local.livekit_server as module

    monkeypatch.setattr(module, "binary", lambda: "/cache/livekit-server")
    monkeypatch.setenv("AIRWAVES_LIVEKIT_API_KEY", "airwaves-local")
    assert [s.name for s in module.servers(1)] == ["livekit"]
    redis, first, second = module.servers(2)
    assert redis.name == "redis" and "--port" in redis.command() and "6390" in redis.command()
    assert (first.url, second.url) == ("ws://127.0.0.1:7880", "ws://127.0.0.1:7890")
    configs = [yaml.safe_load(Path(node.command()[2]).read_text()) for node in (first, second)]
    assert [c["redis"] for c in configs] == [{"address": "127.0.0.1:6390"}] * 2
    assert [(c["port"], c["rtc"]["tcp_port"], c["rtc"]["udp_port"]) for c in configs] == [(7880, 7881, 7882),
                                                                                           (7890, 7891, 7892)]
    assert all(c["webhook"]["urls"] == ["http://127.0.0.1:8000/v1/webhooks/livekit"] for c in configs)
    with pytest.raises(SystemExit):
        module.servers(3)


def test_production_rooms_are_opened_by_the_api_only_with_the_same_timeouts():
    from chalicelib.settings import Settings

    text = (ROOT / "livekit" / "livekit.production.yaml").read_text()
    room = yaml.safe_load(text.replace("${", "x").replace("}", ""))["room"]  # placeholders aside
    fields = Settings.model_fields
    assert room == {"auto_create": False, "empty_timeout": fields["livekit_empty_timeout_seconds"].default,
                    "departure_timeout": fields["livekit_departure_timeout_seconds"].default,
                    "enabled_codecs": AUDIO_ONLY}


AUDIO_ONLY = [{"mime": "audio/opus"}, {"mime": "audio/red"}]


def test_both_configs_negotiate_audio_codecs_only():
    """Spaces are audio only on the server: no video codec is enabled, so every video m-section is
    rejected at negotiation and a video track has nothing to carry it, whatever source it claims."""
    text = (ROOT / "livekit" / "livekit.production.yaml").read_text()
    production = yaml.safe_load(text.replace("${", "x").replace("}", ""))["room"]
    assert load_local_config()["room"]["enabled_codecs"] == production["enabled_codecs"] == AUDIO_ONLY
    rendered = yaml.safe_load(render_local_config(port=1, tcp_port=2, udp_port=3, api_key="k"))
    assert rendered["room"]["enabled_codecs"] == AUDIO_ONLY, "test servers run the same codec list"


def test_the_web_client_offers_no_video_sections_to_the_audio_only_server():
    """livekit-client's single peer connection pre-creates receive-only video sections, which an
    audio-only server rejects; Chromium's next offer then fails ("Transceiver not found based on
    m-line index"). The web app keeps two peer connections."""
    source = (ROOT / "web" / "src" / "room.ts").read_text()
    assert re.search(r"new Room\(\{[^}]*singlePeerConnection: false", source)
