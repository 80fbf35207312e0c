"""Renders livekit-server's production config on a LiveKit node, before each start.

Every ``${NAME}`` in the template (``livekit/livekit.production.yaml``) becomes a JSON-quoted value
(JSON scalars and objects are valid YAML, so no secret can break the file):
  NODE_IP         the node's public IPv4, from instance metadata (IMDSv2)
  LIVEKIT_KEYS    ``{api_key: api_secret}`` from the app's Secrets Manager secret (with the
                  next/previous pair while a key rotation is under way)
  LIVEKIT_API_KEY the key webhooks are signed with (the current one)
  REDIS_PASSWORD  from the Redis AUTH token secret
  REDIS_ADDRESS, TURN_DOMAIN, WEBHOOK_URL from the environment (``/etc/livekit/stack.env``)

With ``--exec-worker PYTHON`` it instead starts the media worker (``python -m airwaves_media``)
with its settings: the LiveKit key pair and ``media_worker_secret`` from the same app secret (kept
in the process environment, never written to disk), LiveKit on this node, the API URL and the media
bucket from ``/etc/livekit/stack.env``.

Runs on Amazon Linux 2023: Python 3.9 standard library and the AWS CLI only.
usage: render_config.py TEMPLATE OUTPUT
       render_config.py --exec-worker PYTHON
"""
from __future__ import annotations

import json
import os
import string
import subprocess
import sys
import urllib.request

IMDS = "http://169.254.169.254/latest"


def imds(path: str, timeout: float = 2.0) -> str:
    """A metadata value, read with an IMDSv2 session token."""
    token_request = urllib.request.Request(f"{IMDS}/api/token", method="PUT",
                                           headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(token_request, timeout=timeout) as res:
        token = res.read().decode()
    request = urllib.request.Request(f"{IMDS}/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(request, timeout=timeout) as res:
        return res.read().decode().strip()


def secret_string(arn: str, region: str) -> str:
    return subprocess.run(
        ["aws", "secretsmanager", "get-secret-value", "--region", region, "--secret-id", arn,
         "--query", "SecretString", "--output", "text"],
        check=True, capture_output=True, text=True).stdout.strip()


def livekit_keys(app_secret: dict) -> dict:
    """The API keys this node accepts: the current pair, and during a rotation (infra/put_secrets.py)
    the next and the previous pair too, so no token is rejected while the API switches keys."""
    keys = {app_secret["livekit_api_key"]: app_secret["livekit_api_secret"]}
    for phase in ("next", "previous"):
        key, secret = app_secret.get(f"livekit_{phase}_api_key"), app_secret.get(f"livekit_{phase}_api_secret")
        if key and secret:
            keys[key] = secret
    for key, secret in keys.items():
        if len(secret) < 32:
            raise SystemExit(f"LiveKit API secret of key {key!r} is shorter than 32 characters")
    return keys


def config_values(env: dict, node_ip: str, app_secret: dict, redis_password: str) -> dict:
    return {
        "NODE_IP": node_ip,
        "LIVEKIT_KEYS": livekit_keys(app_secret),
        "LIVEKIT_API_KEY": app_secret["livekit_api_key"],
        "REDIS_ADDRESS": env["REDIS_ADDRESS"],
        "REDIS_PASSWORD": redis_password,
        "TURN_DOMAIN": env["TURN_DOMAIN"],
        "WEBHOOK_URL": env["WEBHOOK_URL"],
    }


def worker_env(env: dict, app_secret: dict) -> dict:
    """The media worker's environment (names from ``livekit/worker/airwaves_media/config.py``)."""
    region = env["AWS_REGION"]
    return {
        "PATH": env.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": env.get("HOME", "/run/airwaves-media"),
        "PYTHONPATH": env["MEDIA_WORKER_SRC"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LIVEKIT_URL": f"ws://127.0.0.1:{env['SIGNAL_PORT']}",
        "LIVEKIT_API_KEY": app_secret["livekit_api_key"],
        "LIVEKIT_API_SECRET": app_secret["livekit_api_secret"],
        "AIRWAVES_MEDIA_WORKER_SECRET": app_secret["media_worker_secret"],
        "AIRWAVES_API_URL": env["API_URL"].rstrip("/"),
        "AIRWAVES_MEDIA_BUCKET": env["MEDIA_BUCKET"],
        "AIRWAVES_MEDIA_HTTP_PORT": env["MEDIA_WORKER_HEALTH_PORT"],
        "AIRWAVES_MEDIA_MAX_SPACES": env.get("MEDIA_WORKER_MAX_SPACES", "20"),
        "AIRWAVES_STT_ENGINE": env.get("CAPTION_ENGINE", "transcribe"),
    }


def exec_worker(python: str) -> int:
    env = dict(os.environ)
    app_secret = json.loads(secret_string(env["APP_SECRETS_ARN"], env["AWS_REGION"]))
    os.execve(python, [python, "-m", "airwaves_media"], worker_env(env, app_secret))
    return 1  # not reached


def render(template: str, values: dict) -> str:
    """The template with each placeholder replaced; a placeholder without a value is an error."""
    return string.Template(template).substitute({name: json.dumps(value) for name, value in values.items()})


def main(argv: list) -> int:
    if argv[1] == "--exec-worker":
        return exec_worker(argv[2])
    template_path, output_path = argv[1], argv[2]
    env = dict(os.environ)
    region = env["AWS_REGION"]
    values = config_values(
        env,
        node_ip=imds("public-ipv4"),
        app_secret=json.loads(secret_string(env["APP_SECRETS_ARN"], region)),
        redis_password=secret_string(env["REDIS_AUTH_SECRET_ARN"], region),
    )
    with open(template_path) as f:
        rendered = render(f.read(), values)
    fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
