"""Registers the official stripe-mock with the local stack: built from its Go module at the pinned
version (``infra/local/build_go_server.sh``, cached outside the repo), serving HTTP on
127.0.0.1:12111 and HTTPS on 127.0.0.1:12112. The local stage's ``AIRWAVES_STRIPE_API_BASE``
points the API's ``StripeClient`` at it."""
from __future__ import annotations

import os
import subprocess
import sys

from infra.local.stack import ROOT, SERVERS, Server

VERSION = os.environ.get("STRIPE_MOCK_VERSION", "v0.197.0")
MODULE = "github.com/stripe/stripe-mock"
HTTP_PORT, HTTPS_PORT = 12111, 12112


def binary() -> str:
    """Build (first time; progress on stderr) or find the cached stripe-mock, and return its path."""
    out = subprocess.run(["bash", str(ROOT / "infra" / "local" / "build_go_server.sh"), "stripe-mock", MODULE, VERSION],
                         stdout=subprocess.PIPE, stderr=sys.stderr, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def command(http_port: int = HTTP_PORT, https_port: int | None = HTTPS_PORT) -> list[str]:
    cmd = [binary(), "-http-addr", f"127.0.0.1:{http_port}"]
    if https_port is not None:
        cmd += ["-https-addr", f"127.0.0.1:{https_port}"]
    return cmd


def ready(http_port: int = HTTP_PORT) -> bool:
    """stripe-mock answers any authenticated request; the balance is its cheapest object."""
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/balance",
                                     headers={"Authorization": "Bearer sk_test_readyProbe"})
    try:
        with urllib.request.urlopen(request, timeout=1) as res:
            return res.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


SERVERS.append(Server(name="stripe-mock", command=command, ready=ready,
                      url=f"http://127.0.0.1:{HTTP_PORT} (https :{HTTPS_PORT})"))

