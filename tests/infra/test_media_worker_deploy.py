"""The media worker on the LiveKit nodes (issue 13): the node role grants exactly the S3 calls the
worker's code makes (spaces/* of the media bucket only), the worker's environment renders from the
node's stack values and the app secret, systemd runs it after livekit-server from the repository's
pinned requirements, and the drain hook stops it after the rooms drained."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from infra import cluster_template
from infra.livekit_node import render_config
from tests.infra.templates import APP, CLUSTER, ROOT, load

WORKER = ROOT / "livekit" / "worker"
NODE = ROOT / "infra" / "livekit_node"
APP_SECRET = {"livekit_api_key": "airwaves", "livekit_api_secret": "s" * 48, "media_worker_secret": "w" * 40}
STACK_ENV = {"AWS_REGION": "eu-west-1", "SIGNAL_PORT": "7880", "MEDIA_WORKER_HEALTH_PORT": "8089",
             "API_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/", "MEDIA_BUCKET": "airwaves-media-x",
             "MEDIA_WORKER_SRC": "/opt/airwaves/media-worker/livekit/worker", "MEDIA_WORKER_MAX_SPACES": "12",
             "APP_SECRETS_ARN": "arn:app", "PATH": "/usr/bin:/bin"}


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def worker_s3_calls() -> set[str]:
    """``s3:<Action>`` for every boto3 S3 client method the worker's code calls."""
    calls = set()
    for path in (WORKER / "airwaves_media").rglob("*.py"):
        calls |= {f"s3:{_camel(m)}" for m in re.findall(r"\bs3\.([a-z_]+)\(", path.read_text())}
    return calls


@pytest.fixture(scope="module")
def cluster() -> dict:
    return load(CLUSTER)


def _node_statements(cluster: dict) -> list[dict]:
    return cluster["Resources"]["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def test_node_role_grants_exactly_the_s3_calls_the_worker_makes_on_spaces_only(cluster):
    calls = worker_s3_calls()
    assert {"s3:PutObject", "s3:GetObject"} <= calls, "the scan of the worker's S3 calls found nothing"
    s3 = [s for s in _node_statements(cluster) if any(a.startswith("s3:") for a in s["Action"])]
    assert len(s3) == 1
    assert set(s3[0]["Action"]) == calls
    assert s3[0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${MediaBucketName}/spaces/*"}
    assert not any("ListBucket" in a for a in calls), "a listing worker needs ListBucket with a spaces/ prefix"


def test_node_reads_one_app_secret_which_carries_the_worker_secret(cluster):
    (read,) = [s for s in _node_statements(cluster) if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert read["Resource"] == [{"Ref": "AppSecretsArn"}, {"Ref": "RedisAuthToken"}]
    gen = load(APP)["Resources"]["AppSecrets"]["Properties"]["GenerateSecretString"]
    assert "media_worker_secret" in json.loads(gen["SecretStringTemplate"])


def test_parent_passes_the_api_url_and_the_media_bucket(cluster):
    params = load(APP)["Resources"]["LiveKitCluster"]["Properties"]["Parameters"]
    assert params["MediaBucketName"] == {"Ref": "MediaBucket"}
    assert "/prod/" in json.dumps(params["ApiUrl"]) and "RestAPI" in json.dumps(params["ApiUrl"])
    assert "ApiUrl" in cluster["Parameters"] and "MediaBucketName" in cluster["Parameters"]
    assert cluster["Parameters"]["MediaWorkerCommit"]["AllowedPattern"] == r"^([0-9a-f]{40})?$"
    engine = cluster["Parameters"]["CaptionEngine"]
    assert engine["Default"] == "transcribe" and set(engine["AllowedValues"]) == {"transcribe", "embedded", "none"}


def test_worker_environment_renders_from_stack_values_and_the_secret():
    env = render_config.worker_env(STACK_ENV, APP_SECRET)
    assert env["LIVEKIT_URL"] == "ws://127.0.0.1:7880"
    assert (env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]) == ("airwaves", "s" * 48)
    assert env["AIRWAVES_MEDIA_WORKER_SECRET"] == "w" * 40
    assert env["AIRWAVES_API_URL"] == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    assert env["AIRWAVES_MEDIA_BUCKET"] == "airwaves-media-x" and env["AWS_REGION"] == "eu-west-1"
    assert env["AIRWAVES_MEDIA_HTTP_PORT"] == "8089" and env["AIRWAVES_MEDIA_MAX_SPACES"] == "12"
    assert env["PYTHONPATH"] == STACK_ENV["MEDIA_WORKER_SRC"]
    assert env["AIRWAVES_STT_ENGINE"] == "transcribe", "deployed stages caption with Amazon Transcribe by default"
    assert render_config.worker_env({**STACK_ENV, "CAPTION_ENGINE": "embedded"}, APP_SECRET)["AIRWAVES_STT_ENGINE"] \
        == "embedded"
    assert "APP_SECRETS_ARN" not in env, "the worker gets its values, not the node's plumbing"
    with pytest.raises(KeyError):
        render_config.worker_env(STACK_ENV, {k: v for k, v in APP_SECRET.items() if k != "media_worker_secret"})


def test_worker_settings_accept_the_rendered_environment(monkeypatch):
    """The names render_config writes are the names the worker reads (its config.py, loaded alone)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("worker_config", WORKER / "airwaves_media" / "config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "worker_config", module)
    spec.loader.exec_module(module)
    for key, value in render_config.worker_env(STACK_ENV, APP_SECRET).items():
        monkeypatch.setenv(key, value)
    settings = module.Settings.from_env()
    assert settings.livekit_url == "ws://127.0.0.1:7880" and settings.bucket == "airwaves-media-x"
    assert settings.worker_secret == "w" * 40 and settings.api_url.endswith("/prod")
    assert settings.aws_endpoint_url is None


def test_exec_worker_reads_the_secret_and_execs_the_module(monkeypatch):
    for key, value in STACK_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(render_config, "secret_string", lambda arn, region: json.dumps(APP_SECRET)
                        if (arn, region) == ("arn:app", "eu-west-1") else "")
    seen = {}
    monkeypatch.setattr(render_config.os, "execve", lambda path, argv, env: seen.update(path=path, argv=argv, env=env))
    render_config.main(["render_config.py", "--exec-worker", "/opt/airwaves/media-venv/bin/python"])
    assert seen["argv"] == ["/opt/airwaves/media-venv/bin/python", "-m", "airwaves_media"]
    assert seen["env"]["AIRWAVES_MEDIA_WORKER_SECRET"] == "w" * 40


def _user_data(cluster: dict) -> str:
    parts = cluster["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    head, files = parts["Fn::Join"][1]
    return head["Fn::Sub"] + files


def _unit(script: str, name: str) -> dict[str, str]:
    body = re.search(rf"cat > /etc/systemd/system/{re.escape(name)} <<'?UNIT'?\n(.*?)\nUNIT\n", script, re.S)
    assert body, name
    return dict(line.split("=", 1) for line in body.group(1).splitlines() if "=" in line)


def test_systemd_unit_runs_the_worker_after_livekit_and_restarts_it(cluster):
    script = _user_data(cluster)
    unit = _unit(script, "airwaves-media.service")
    assert "livekit.service" in unit["After"] and unit["Wants"] == "livekit.service"
    assert unit["Restart"] == "on-failure" and unit["User"] == "airwaves-media"
    assert unit["ExecStart"] == ("/usr/bin/python3 /opt/airwaves/render_config.py --exec-worker "
                                 "/opt/airwaves/media-venv/bin/python")
    assert int(unit["TimeoutStopSec"]) >= 300, "room for the worker's finalize timeout"
    assert unit["EnvironmentFile"] == "/etc/livekit/stack.env"
    for line in ("API_URL=${ApiUrl}", "MEDIA_BUCKET=${MediaBucketName}",
                 "MEDIA_WORKER_HEALTH_PORT=8089", "MEDIA_WORKER_SRC=/opt/airwaves/media-worker/livekit/worker"):
        assert line in script
    assert cluster_template.MEDIA_WORKER_HEALTH_PORT == 8089


def test_install_uses_the_pinned_commit_and_its_pinned_requirements(cluster):
    script = _user_data(cluster)
    assert 'git -C "$worker" checkout --quiet --detach "$MEDIA_WORKER_COMMIT"' in script
    assert '-r "$MEDIA_WORKER_SRC/requirements.txt"' in script
    assert "python3.11 -m venv /opt/airwaves/media-venv" in script
    requirements = (WORKER / "requirements.txt").read_text()
    pins = [line.split("#", 1)[0].strip() for line in requirements.splitlines()
            if line.strip() and not line.startswith("#")]  # an inline comment may say why
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", p) for p in pins), pins
    assert any(p.startswith("livekit-agents==") for p in pins) and any(p.startswith("boto3==") for p in pins)
    # the worker's path under the checkout is the one the stack env points at
    assert (WORKER / "airwaves_media" / "__main__.py").exists()


def test_drain_stops_the_worker_after_livekit_drained():
    drain = (NODE / "drain.sh").read_text()
    assert drain.index("systemctl stop livekit.service") < drain.index("systemctl stop airwaves-media.service")
    assert drain.index("systemctl stop airwaves-media.service") < drain.index("complete-lifecycle-action")


def test_compacted_scripts_stay_valid_and_fit_user_data(cluster, tmp_path):
    for name in ("install.sh", "drain.sh"):
        compacted = cluster_template.compact(name, (NODE / name).read_text())
        assert compacted.startswith("#!/bin/bash\n") and "\n#" not in compacted
        path = tmp_path / name
        path.write_text(compacted)
        res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    py = cluster_template.compact("render_config.py", (NODE / "render_config.py").read_text())
    compile(py, "render_config.py", "exec")
    assert "def worker_env" in py and not py.startswith('"""')
    assert len(_user_data(cluster).encode()) < 14_000


def _written(script: str, marker: str, path: str = r"\S+", **variables: str) -> tuple[str, str]:
    """(path, text) of the file a ``cat > path <<MARKER`` heredoc of the script writes, expanded by
    bash itself with these shell variables."""
    found = re.search(rf"cat > ({path}) <<'?{marker}'?\n(.*?\n){marker}\n", script, re.S)
    assert found, marker
    res = subprocess.run(["bash", "-c", f"cat <<{marker}\n{found.group(2)}{marker}\n"], env=variables,
                         capture_output=True, text=True, check=True)
    return found.group(1), res.stdout


def test_the_worker_log_reaches_its_own_log_group_through_the_cloudwatch_agent(cluster):
    """The unit appends the worker's stdout and stderr to the file the agent's config collects into
    the stack's log group (kept LogRetentionDays, the parent's value), logrotate bounds the file, and
    the node may write log streams of that group and nothing else of CloudWatch Logs."""
    script = _user_data(cluster)
    assert "MEDIA_WORKER_LOG_GROUP=${MediaWorkerLogGroup}" in script
    worker_log = re.search(r"^\s*worker_log=(\S+)$", script, re.M).group(1)
    shell = {"worker_log": worker_log, "MEDIA_WORKER_LOG_GROUP": "/airwaves/stack/media-worker"}
    _, unit_text = _written(script, "UNIT", re.escape("/etc/systemd/system/airwaves-media.service"), **shell)
    unit = dict(line.split("=", 1) for line in unit_text.splitlines() if "=" in line)
    assert unit["StandardOutput"] == f"append:{worker_log}" and unit["StandardError"] == "inherit"
    config_path, config = _written(script, "AGENT", **shell)
    (collected,) = json.loads(config)["logs"]["logs_collected"]["files"]["collect_list"]
    assert collected == {"file_path": worker_log, "log_group_name": "/airwaves/stack/media-worker",
                         "log_stream_name": "{instance_id}"}
    assert f"amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \\\n    -c file:{config_path}" in script
    _, rotation = _written(script, "ROTATE", **shell)
    assert rotation.startswith(f"{worker_log} {{") and "copytruncate" in rotation and "maxsize" in rotation

    group = cluster["Resources"]["MediaWorkerLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert load(APP)["Resources"]["LiveKitCluster"]["Properties"]["Parameters"]["LogRetentionDays"] == {
        "Ref": "LogRetentionDays"}
    logs = [s for s in _node_statements(cluster) if any(a.startswith("logs:") for a in s["Action"])]
    assert logs == [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams",
                                                   "logs:PutLogEvents"],
                     "Resource": {"Fn::GetAtt": ["MediaWorkerLogGroup", "Arn"]}}]


def test_drain_lets_the_agent_ship_the_worker_s_last_lines():
    drain = (NODE / "drain.sh").read_text()
    stopped = drain.index("systemctl stop airwaves-media.service")
    assert stopped < drain.index("sleep 10") < drain.index("complete-lifecycle-action")
