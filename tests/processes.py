"""Real servers as child processes, for fixtures and benchmarks: free loopback ports, start and
wait until ready, stop. One copy of each, so every fixture and bench starts servers the same way."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class StartFailed(Exception):
    """A server exited or did not answer in time; the message carries the end of its log."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 nobody holds right now (TCP by default; ``SOCK_DGRAM`` for UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    """Poll ``check`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as res:
            return int(res.status) < 500
    except OSError:
        return False


@dataclass
class Server:
    """A started child process and its log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, size: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(command: list[str], *, ready: Callable[[Server], bool], log_path: Path, timeout: float = 30,
                 env: dict[str, str] | None = None) -> Server:
    """Start ``command`` with its output in ``log_path`` and wait until ``ready(server)``; a server
    that exits first, or is not ready in time, is stopped and raises ``StartFailed``."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = Server(process, log_path)

    def up() -> bool:
        if process.poll() is not None:
            raise StartFailed(f"exited with {process.returncode}: {server.log_tail()}")
        return ready(server)

    if not wait_until(up, timeout):
        server.stop()
        raise StartFailed(f"did not answer within {timeout:.0f}s: {server.log_tail()}")
    return server


# -- the two Go servers ---------------------------------------------------------------------------------
@dataclass
class LiveKitProcess:
    server: Server
    port: int
    api_key: str
    api_secret: str
    config_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_livekit(binary: str, workdir: Path, *, api_key: str, api_secret: str,
                  webhook_url: str | None = None, redis_address: str | None = None,
                  name: str = "livekit") -> LiveKitProcess:
    """livekit-server with the local config (``livekit/livekit.local.yaml``) moved to free ports;
    with ``redis_address`` it is one node of a cluster sharing that Redis (files named ``name``)."""
    from infra.local.livekit_config import render_local_config

    config_path = workdir / f"{name}.yaml"
    for attempt in range(3):  # a free port can be taken before livekit binds it (another test's client socket)
        port = free_port()
        config_path.write_text(render_local_config(port=port, tcp_port=free_port(),
                                                   udp_port=free_port(socket.SOCK_DGRAM), api_key=api_key,
                                                   webhook_url=webhook_url, redis_address=redis_address))
        try:
            server = start_server([binary, "--config", str(config_path)],
                                  ready=lambda _, port=port: http_ok(f"http://127.0.0.1:{port}/"),
                                  log_path=workdir / f"{name}.log", env={"LIVEKIT_KEYS": f"{api_key}: {api_secret}"})
        except StartFailed as exc:
            if attempt < 2 and "address already in use" in str(exc):
                continue
            raise
        return LiveKitProcess(server, port, api_key, api_secret, config_path)
    raise AssertionError("unreachable")


_NODE_ID = re.compile(r'"?nodeID"?[:=]\s*"?(ND_\w+)')


def livekit_node_id(process: LiveKitProcess) -> str:
    """The node ID a cluster node registered in Redis under (from its startup log)."""
    found = _NODE_ID.search(process.server.log_tail(1_000_000))
    if not found:
        raise StartFailed(f"no node ID in the log: {process.server.log_tail()}")
    return found.group(1)


@dataclass
class RedisProcess:
    server: Server
    port: int
    binary: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, *args: str) -> list[str]:
        """One command through ``redis-cli`` (installed with Debian's redis-server); its output lines."""
        cli = str(Path(self.binary).with_name("redis-cli"))
        out = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(self.port), "--raw", *args], capture_output=True,
                             text=True, timeout=10, check=True)
        return [line for line in out.stdout.splitlines() if line]


def start_redis(binary: str, workdir: Path) -> RedisProcess:
    """A throwaway redis-server on a free loopback port: no persistence, no config file."""
    port = free_port()
    cli = str(Path(binary).with_name("redis-cli"))

    def pong(_: Server) -> bool:
        out = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port), "ping"], capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() == "PONG"

    server = start_server([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                           "--dir", str(workdir)], ready=pong, log_path=workdir / "redis.log")
    return RedisProcess(server, port, binary)


_LISTENING = re.compile(r"Listening for HTTP at address: (\S+)")


@dataclass
class StripeMockProcess:
    server: Server
    url: str


def start_stripe_mock(binary: str, workdir: Path) -> StripeMockProcess:
    """stripe-mock on system-chosen loopback ports (read back from its log, so runs never collide)."""
    from infra.local.stripe_mock import ready as answers

    def listening(server: Server) -> bool:
        found = _LISTENING.search(server.log_tail(100_000))
        return bool(found) and answers(int(found.group(1).rsplit(":", 1)[1]))  # type: ignore[union-attr]

    server = start_server([binary, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:"], ready=listening,
                          log_path=workdir / "stripe-mock.log")
    found = _LISTENING.search(server.log_tail(100_000))
    assert found is not None
    return StripeMockProcess(server, f"http://{found.group(1)}")
