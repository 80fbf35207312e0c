"""``make up`` runs the pinned stripe-mock on loopback and waits for it with a real probe."""
from __future__ import annotations

import subprocess

import pytest

from tests.processes import free_port, wait_until


def test_the_local_stack_registers_stripe_mock_on_loopback(stripe_mock_binary):
    import infra.local.extensions  # noqa: F401 - registers the servers
    from infra.local.stack import SERVERS

    [server] = [s for s in SERVERS if s.name == "stripe-mock"]
    cmd = server.command()
    assert cmd[0] == stripe_mock_binary
    assert cmd[1:] == ["-http-addr", "127.0.0.1:12111", "-https-addr", "127.0.0.1:12112"]
    assert "127.0.0.1:12111" in server.url


@pytest.mark.stripe
def test_the_registered_command_serves_and_its_probe_sees_it(stripe_mock_binary):
    from infra.local.stripe_mock import command, ready

    http, https = free_port(), free_port()
    assert not ready(http)
    proc = subprocess.Popen(command(http, https), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: ready(http), 20)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not ready(http)
