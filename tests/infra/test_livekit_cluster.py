"""The LiveKit cluster stack and what runs on its nodes: the production config renders from the
node's facts and secrets, the pinned real livekit-server accepts it (strict parsing), and the
stack opens exactly the ports that config uses."""
from __future__ import annotations

import json
import re
import socket
import subprocess

import pytest
import yaml

from infra import cluster_template
from infra.livekit_node import render_config
from tests.infra.templates import CLUSTER, ROOT, load

CONFIG = ROOT / "livekit" / "livekit.production.yaml"
STACK_ENV = {"REDIS_ADDRESS": "redis.internal:6379", "TURN_DOMAIN": "livekit.example.com",
             "WEBHOOK_URL": "https://abc.execute-api.us-east-1.amazonaws.com/prod/v1/webhooks/livekit"}
APP_SECRET = {"livekit_api_key": "airwaves", "livekit_api_secret": "s" * 48, "stripe_secret_key": "sk_live_x"}


def _render(env=STACK_ENV, secret=APP_SECRET, node_ip="203.0.113.7", redis_password="r" * 64) -> dict:
    values = render_config.config_values(env, node_ip=node_ip, app_secret=secret, redis_password=redis_password)
    return yaml.safe_load(render_config.render(CONFIG.read_text(), values))


def test_rendered_config_carries_node_ip_keys_redis_turn_and_webhook():
    config = _render()
    assert config["rtc"]["node_ip"] == "203.0.113.7" and config["rtc"]["use_external_ip"] is False
    assert config["keys"] == {"airwaves": "s" * 48}
    assert config["redis"] == {"address": "redis.internal:6379", "password": "r" * 64, "tls": {"enabled": True}}
    assert config["turn"]["domain"] == "livekit.example.com" and config["turn"]["external_tls"] is True
    assert config["webhook"] == {"api_key": "airwaves", "urls": [STACK_ENV["WEBHOOK_URL"]]}
    assert config["room"]["enabled_codecs"] == [{"mime": "audio/opus"}, {"mime": "audio/red"}], "audio only"


def test_values_that_would_break_yaml_arrive_intact():
    hostile = 'p: "#{}[]\' &*!|>%@`'
    config = _render(redis_password=hostile, secret={**APP_SECRET, "livekit_api_secret": hostile + "x" * 32})
    assert config["redis"]["password"] == hostile
    assert config["keys"]["airwaves"] == hostile + "x" * 32


def test_rotation_pairs_are_accepted_and_short_secrets_refused():
    rotating = {**APP_SECRET, "livekit_next_api_key": "airwaves-2", "livekit_next_api_secret": "n" * 40,
                "livekit_previous_api_key": "airwaves-0", "livekit_previous_api_secret": "p" * 40}
    config = _render(secret=rotating)
    assert config["keys"] == {"airwaves": "s" * 48, "airwaves-2": "n" * 40, "airwaves-0": "p" * 40}
    assert config["webhook"]["api_key"] == "airwaves"
    with pytest.raises(SystemExit, match="shorter than 32"):
        _render(secret={**APP_SECRET, "livekit_api_secret": "short"})


def test_a_placeholder_without_a_value_fails_the_render():
    with pytest.raises(KeyError):
        render_config.render("node_ip: ${NODE_IP}\nnew: ${SOMETHING_NEW}\n", {"NODE_IP": "1.2.3.4"})


def test_main_takes_the_public_ip_from_instance_metadata(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(render_config, "imds", lambda path: asked.append(path) or "198.51.100.9")
    secrets = {"arn:app": json.dumps(APP_SECRET), "arn:redis": "r" * 64}
    monkeypatch.setattr(render_config, "secret_string", lambda arn, region: secrets[arn])
    for key, value in {**STACK_ENV, "AWS_REGION": "eu-west-1", "APP_SECRETS_ARN": "arn:app",
                       "REDIS_AUTH_SECRET_ARN": "arn:redis"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "livekit.yaml"
    assert render_config.main(["render_config.py", str(CONFIG), str(out)]) == 0
    assert asked == ["public-ipv4"]
    assert yaml.safe_load(out.read_text())["rtc"]["node_ip"] == "198.51.100.9"
    assert out.stat().st_mode & 0o077 == 0, "the rendered config holds secrets: owner-only"


def test_pinned_livekit_server_accepts_the_rendered_production_config(livekit_binary, tmp_path):
    """Strict parsing and validation pass: the server gets as far as dialling Redis (nothing
    listens on the port we give it, so it stops there instead of serving)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    config = tmp_path / "livekit.yaml"
    values = render_config.config_values({**STACK_ENV, "REDIS_ADDRESS": f"127.0.0.1:{closed_port}"},
                                         node_ip="127.0.0.1", app_secret=APP_SECRET, redis_password="r" * 64)
    config.write_text(render_config.render(CONFIG.read_text(), values))
    res = subprocess.run([livekit_binary, "--config", str(config)], capture_output=True, text=True, timeout=60)
    output = res.stdout + res.stderr
    assert "could not" not in output.lower(), output
    assert "connecting to redis" in output and f"127.0.0.1:{closed_port}" in output, output


def test_the_same_check_rejects_a_config_the_server_does_not_know(livekit_binary, tmp_path):
    config = tmp_path / "livekit.yaml"
    config.write_text(render_config.render(CONFIG.read_text(), render_config.config_values(
        STACK_ENV, node_ip="127.0.0.1", app_secret=APP_SECRET, redis_password="x")) + "\nnot_a_livekit_option: 1\n")
    res = subprocess.run([livekit_binary, "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert "could not parse config" in res.stdout + res.stderr


@pytest.fixture(scope="module")
def cluster() -> dict:
    return load(CLUSTER)


def _ingress(cluster: dict, group: str) -> set[tuple]:
    return {(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIp") or json.dumps(r.get("SourceSecurityGroupId")))
            for r in cluster["Resources"][group]["Properties"]["SecurityGroupIngress"]}


def test_security_groups_open_what_the_config_uses(cluster):
    ports = cluster_template.config_ports(CONFIG.read_text())
    assert ports == {"signal": 7880, "ice_tcp": 7881, "udp_start": 50000, "udp_end": 60000, "turn_tls": 5349,
                     "turn_udp": 3478}
    from_lb = json.dumps({"Ref": "LoadBalancerSecurityGroup"})
    assert _ingress(cluster, "NodeSecurityGroup") == {
        ("tcp", 7880, 7880, from_lb), ("tcp", 5349, 5349, from_lb),
        ("tcp", 7881, 7881, "0.0.0.0/0"), ("udp", 50000, 60000, "0.0.0.0/0"), ("udp", 3478, 3478, "0.0.0.0/0")}
    assert _ingress(cluster, "LoadBalancerSecurityGroup") == {("tcp", 443, 443, "0.0.0.0/0"),
                                                              ("tcp", 5349, 5349, "0.0.0.0/0")}
    assert _ingress(cluster, "RedisSecurityGroup") == {("tcp", 6379, 6379, json.dumps({"Ref": "NodeSecurityGroup"}))}


def test_load_balancer_ends_tls_for_signalling_and_turn(cluster):
    res = cluster["Resources"]
    assert res["LoadBalancer"]["Properties"]["Type"] == "network"
    for listener, port, group, target_port in (("SignalListener", 443, "SignalTargetGroup", 7880),
                                               ("TurnListener", 5349, "TurnTargetGroup", 5349)):
        props = res[listener]["Properties"]
        assert (props["Protocol"], props["Port"]) == ("TLS", port)
        assert props["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
        assert props["DefaultActions"][0]["TargetGroupArn"] == {"Ref": group}
        assert res[group]["Properties"]["Port"] == target_port and res[group]["Properties"]["Protocol"] == "TCP"
    assert res["NodeGroup"]["Properties"]["TargetGroupARNs"] == [{"Ref": "SignalTargetGroup"},
                                                                 {"Ref": "TurnTargetGroup"}]


def test_nodes_scale_on_cpu_drain_before_termination_and_use_redis(cluster):
    res = cluster["Resources"]
    policy = res["CpuScaling"]["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ASGAverageCPUUtilization"}
    (hook,) = res["NodeGroup"]["Properties"]["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["HeartbeatTimeout"] == {"Ref": "DrainSeconds"}
    env = _user_data(cluster)
    assert f"DRAIN_HOOK_NAME={hook['LifecycleHookName']}" in env
    assert "autoscaling/target-lifecycle-state" in (ROOT / "infra" / "livekit_node" / "drain.sh").read_text()
    redis = res["Redis"]["Properties"]
    assert redis["TransitEncryptionEnabled"] is True and redis["AutomaticFailoverEnabled"] is True
    assert "REDIS_ADDRESS=${Redis.PrimaryEndPoint.Address}:${Redis.PrimaryEndPoint.Port}" in env
    assert res["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"


def _user_data(cluster: dict) -> str:
    parts = cluster["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    head, files = parts["Fn::Join"][1]
    return head["Fn::Sub"] + files


def test_user_data_installs_the_pinned_version_and_is_valid_bash(cluster, tmp_path):
    build_sh = (ROOT / "livekit" / "build.sh").read_text()
    pinned = re.search(r"LIVEKIT_VERSION:-(v[\d.]+)", build_sh).group(1)
    assert pinned == "v1.13.5"
    script = _user_data(cluster)
    assert f"LIVEKIT_VERSION={pinned}" in script
    assert "github.com/livekit/livekit-server/cmd/server@${LIVEKIT_VERSION}" in script
    assert CONFIG.read_text() in script, "the node gets the production config verbatim"
    assert len(script.encode()) < 14_000, "EC2 user data is limited to 16 KB (leave room for substitutions)"
    path = tmp_path / "user-data.sh"
    path.write_text(re.sub(r"\$\{[A-Za-z:.]+\}", "x", script))
    res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for name in ("install.sh", "drain.sh"):
        res = subprocess.run(["bash", "-n", str(ROOT / "infra" / "livekit_node" / name)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_nodes_get_public_ips_and_only_their_secrets(cluster):
    res = cluster["Resources"]
    (nic,) = res["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] is True
    statements = res["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    read = [s for s in statements if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert read == [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                     "Resource": [{"Ref": "AppSecretsArn"}, {"Ref": "RedisAuthToken"}]}]
