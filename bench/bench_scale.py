"""Listeners per LiveKit node, measured with a real load generator, and join storms through the API.

What runs (all on loopback):
- the real ``livekit-server`` (the local config on free ports) pinned to core 0 with ``taskset``;
- on core 1: the API over HTTP as ``make up`` serves it (Chalice's local server on moto's server),
  a host client publishing a 48 kHz Opus tone into one live Space, and ``bench/loadgen`` (Go, on
  ``github.com/livekit/server-sdk-go/v2``): subscribe-only listeners that read RTP packets
  without decoding them and count packets received and lost from the RTP sequence numbers.

Every listener's token comes from the API's join route (``POST /v1/spaces/{id}/join`` with a dev
token of its own), so listeners join with exactly the grants the API gives. Listeners are added
in steps until the server's core saturates (≥ ``SATURATED`` of one core) or loss passes 1%
(bounded by ``STEPS`` and ``BUDGET_S``); each step prints the server's CPU and RSS, core 0's
busy, softirq and steal shares, loss, the kernel's UDP buffer drops, join and first-packet times,
and the load average. The server, the generator and this process run at nice ``FAVOURED_NICE``
when root, so other jobs on a shared machine do not starve what is measured.
``AIRWAVES_BENCH_SCALE_STEPS_ONLY=1`` stops after the steps.

Then: a join storm of ``STORM`` listeners (``STORM_CONNECTS`` connecting at once), once with the
API's listener grants made visible (minted here, signed the same way) and once with the API's own
tokens (listeners join hidden), comparing the server
CPU the storm costs, how long it takes and how many participant updates listeners receive; and
the API's join route under ``STORM`` joins from ``STORM_THREADS`` threads (p50/p99, errors).

Last, Opus DTX: the server CPU and packets per listener of one stage publisher that is silent
without DTX, silent with DTX, and speaking with DTX (``DTX_CASES``): what a stage of mostly quiet
speakers costs, and so whether publishers should turn DTX on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, CLIENT_CORE = 0, 1
STEPS = (50, 100, 200, 300, 450, 600, 800, 1000)
BUDGET_S = 150.0  # no new step starts after this many seconds of stepping
JOIN_TIMEOUT_S = 40.0  # every listener of a step must have its first packet within this
SETTLE_S, WINDOW_S = 2.0, 5.0
SATURATED = 0.90  # of the server's one core
LOSS_LIMIT = 0.01
STORM, STORM_THREADS, STORM_CONNECTS = 300, 16, 50  # joins, API threads, connecting at once
DTX_LISTENERS = 150  # listeners of each Opus DTX case
DTX_CASES = (("silent speaker, DTX off", True, False), ("silent speaker, DTX on", True, True),
             ("speaking, DTX on", False, True))  # (case, silent, dtx)
TICK = os.sysconf("SC_CLK_TCK")
STDERR_LOG = Path(tempfile.gettempdir()) / "airwaves-loadgen.log"
# LiveKit's published audio-only benchmark (https://docs.livekit.io/transport/self-hosting/benchmark/):
# 10 publishers, 3,000 subscribers in one room on a 16-core c2-standard-16, 80% average CPU,
# 959,156 packets/s out. Per core at 80%: 30,000 forwarded audio tracks / 16 = 1,875.
LIVEKIT_PUBLISHED = {"cores": 16, "cpu": 0.80, "subscribers": 3000, "publishers": 10, "packets_out": 959_156}


# -- sampling ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def core_busy(core: int = SERVER_CORE) -> tuple[int, int, int, int]:
    """(busy, softirq, steal, total) jiffies of one core: softirq is where loopback's receive path
    runs (on the sending core), steal what the hypervisor gave other machines."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) for x in line.split()[1:9]]
            return sum(v) - v[3] - v[4], v[6], v[7], sum(v)
    return 0, 0, 0, 1


def udp_drops() -> tuple[int, int]:
    """Datagrams the kernel dropped (receive buffers full, send buffers full) since boot, from
    ``/proc/net/snmp``: a full receive buffer is a listener that did not read in time."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    counters = dict(zip(rows[0][1:], (int(x) for x in rows[1][1:]), strict=True))
    return counters.get("RcvbufErrors", 0), counters.get("SndbufErrors", 0)


def pin(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` (threads made later inherit it) to ``core``."""
    subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], check=True, capture_output=True)


FAVOURED_NICE = -15  # the measured processes' priority over the machine's other jobs (root only)


def favour(pid: int) -> bool:
    """Give every thread of ``pid`` (and those it starts later: they inherit it) priority over the
    machine's other jobs, so a shared core measures the server's cost instead of starving it.
    Needs root; False (and nothing changed) otherwise."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            os.setpriority(os.PRIO_PROCESS, int(tid), FAVOURED_NICE)
    except PermissionError:
        return False
    return True


# -- the load generator --------------------------------------------------------------------------
def build_loadgen() -> str | None:
    if not shutil.which("go"):
        print("  Go is not installed: no load generator")
        return None
    out = Path(os.environ.get("AIRWAVES_CACHE", Path.home() / ".cache" / "airwaves")) / "loadgen" / "loadgen"
    build = subprocess.run(["go", "build", "-o", str(out), "."], cwd=ROOT / "bench" / "loadgen", capture_output=True,
                           text=True)
    if build.returncode != 0:
        print(f"  the load generator did not build: {build.stderr[-500:]}")
        return None
    return str(out)


class LoadGen:
    """``bench/loadgen`` on the client core, driven over stdin (see its main.go)."""

    def __init__(self, binary: str, concurrency: int = 20) -> None:
        self.log = open(STDERR_LOG, "a")  # the SDK's own log
        self.proc = subprocess.Popen(["taskset", "-c", str(CLIENT_CORE), binary, "-concurrency", str(concurrency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     stderr=self.log)
        self.events: dict[str, dict[str, dict]] = {"joined": {}, "subscribed": {}, "failed": {}}
        self.reports: queue.Queue[dict] = queue.Queue()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        favour(self.proc.pid)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg["type"] == "report":
                self.reports.put(msg)
            else:
                with self.lock:
                    self.events[msg["type"]][msg["id"]] = msg

    def join(self, ident: str, url: str, token: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"join {ident} {url} {token}\n")
        self.proc.stdin.flush()

    def count(self, kind: str, ids: set[str]) -> int:
        with self.lock:
            return sum(i in self.events[kind] for i in ids)

    def commonest_error(self, ids: set[str]) -> str:
        with self.lock:
            errors = [self.events["failed"][i].get("error", "") for i in ids if i in self.events["failed"]]
        return max(set(errors), key=errors.count)[:160] if errors else ""

    def times(self, kind: str, ids: set[str]) -> list[float]:
        with self.lock:
            return [self.events[kind][i]["ms"] for i in ids if i in self.events[kind]]

    def report(self) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return self.reports.get(timeout=30)

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# -- the API over HTTP, as make up serves it -------------------------------------------------------
class HttpApi:
    def __init__(self, base: str) -> None:
        self.base = base

    def post(self, path: str, body: dict | None = None, token: str | None = None, method: str = "POST"
             ) -> tuple[int, dict]:
        req = urllib.request.Request(self.base + path, data=json.dumps(body or {}).encode(), method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, json.loads(res.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError as exc:  # reset, timed out: counted as an error
            return 0, {"error": str(exc)}

    def dev_token(self, user: str, admin: bool = False) -> str:
        for _ in range(3):  # setup, not measured: retried
            status, body = self.post("/v1/dev/tokens", {"user_id": user, "admin": admin})
            if status == 201:
                return str(body["token"])
        raise RuntimeError(f"no dev token for {user}: {status} {body}")

    def host(self, user: str) -> str:
        """A dev token of a user with a profile that may host."""
        status, body = self.post(f"/v1/admin/users/{user}", {"handle": user.replace("-", "_"), "display_name": user,
                                                              "follower_count": 1000},
                                 token=self.dev_token("admin", admin=True), method="PUT")
        assert status in (200, 201), body
        return self.dev_token(user)


def start_api(livekit_url: str, key: str, secret: str) -> tuple[HttpApi, tuple]:
    """moto's server and the Chalice local server on free loopback ports (``infra.local.stack``'s
    own starters), the API pointed at the bench's livekit-server."""
    from infra.local import stack
    from infra.local.stage import apply_stage_environment
    from tests.processes import free_port

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench-scale", AIRWAVES_LIVEKIT_URL=livekit_url,
                            AIRWAVES_LIVEKIT_API_URL=livekit_url.replace("ws", "http", 1),
                            AIRWAVES_LIVEKIT_API_KEY=key, AIRWAVES_LIVEKIT_API_SECRET=secret)
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    ChaliceRequestHandler.log_message = lambda *_args: None  # type: ignore[method-assign]  # the API's
    ThreadedHTTPServer.request_queue_size = 256  # the default backlog of 5 resets concurrent joins
    stack.MOTO_PORT, stack.API_PORT = free_port(), free_port()
    stack.register_extensions()
    moto = stack.start_aws()
    stack.provision()
    server = stack.start_api()
    base = f"http://127.0.0.1:{stack.API_PORT}"
    stack.wait_until(lambda: _answers(f"{base}/v1/openapi.json"), "the API")
    return HttpApi(base), (moto, server)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=20) as res:
            return int(res.status) == 200
    except OSError:
        return False


def api_joins(api: HttpApi, space_id: str, users: list[str]) -> tuple[list[tuple[str, dict]], list[float], int]:
    """Dev tokens, then ``POST /join`` for each user from ``STORM_THREADS`` threads:
    ((user, join answer) of the successes, join route latencies in ms, errors)."""
    with ThreadPoolExecutor(STORM_THREADS) as pool:
        tokens = list(pool.map(api.dev_token, users))

        def join(pair: tuple[str, str]) -> tuple[str, int, dict, float]:
            began = time.perf_counter()
            status, body = api.post(f"/v1/spaces/{space_id}/join", token=pair[1])
            return pair[0], status, body, (time.perf_counter() - began) * 1000

        results = list(pool.map(join, zip(users, tokens, strict=True)))
    ok = [(u, b) for u, s, b, _ in results if s == 200]
    return ok, [ms for _, s, _, ms in results if s == 200], sum(s != 200 for _, s, _, _ in results)


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Step:
    listeners: int
    server_cores: float
    core_busy: float
    gen_cores: float
    rss_mb: float
    loss: float
    worst_loss: float
    pkts_per_listener: float
    join_p50: float
    join_p99: float
    first_packet_p99: float
    api_join_p99: float
    failed: int
    load1: float
    core_softirq: float = 0.0  # of core 0's time
    core_steal: float = 0.0
    rcvbuf_drops: int = 0  # datagrams dropped in the window: a listener's socket full
    sndbuf_drops: int = 0


@dataclass
class Window:
    server_cores: float
    core_busy: float
    core_softirq: float
    core_steal: float
    gen_cores: float
    rss_mb: float
    loss: float
    worst_loss: float
    pkts_per_listener: float
    rcvbuf_drops: int
    sndbuf_drops: int


def _window(pid: int, gen: LoadGen) -> Window:
    time.sleep(SETTLE_S)
    r0 = gen.report()
    g0, c0, core0, drops0, began = cpu_seconds(gen.proc.pid), cpu_seconds(pid), core_busy(), udp_drops(), time.monotonic()
    rss = []
    while time.monotonic() - began < WINDOW_S:
        time.sleep(0.5)
        rss.append(rss_mb(pid))
    elapsed = time.monotonic() - began
    g1, c1, core1, drops1 = cpu_seconds(gen.proc.pid), cpu_seconds(pid), core_busy(), udp_drops()
    r1 = gen.report()
    n = min(len(r0["packets"]), len(r1["packets"]))
    got = [r1["packets"][i] - r0["packets"][i] for i in range(n)]
    sent = [r1["expected"][i] - r0["expected"][i] for i in range(n)]
    loss = 1 - sum(got) / sum(sent) if sum(sent) else 0.0
    worst = max((1 - g / s for g, s in zip(got, sent, strict=True) if s), default=0.0)
    busy, softirq, steal, total = (b - a for a, b in zip(core0, core1, strict=True))
    return Window(server_cores=(c1 - c0) / elapsed, core_busy=busy / max(1, total),
                  core_softirq=softirq / max(1, total), core_steal=steal / max(1, total),
                  gen_cores=(g1 - g0) / elapsed, rss_mb=sum(rss) / len(rss), loss=max(0.0, loss),
                  worst_loss=max(0.0, worst), pkts_per_listener=sum(got) / max(1, n) / elapsed,
                  rcvbuf_drops=drops1[0] - drops0[0], sndbuf_drops=drops1[1] - drops0[1])


STEP_HEADER = (f"  {'listeners':>9} {'server CPU':>10} {'core0':>7} {'sirq':>5} {'steal':>5} {'gen':>7} {'RSS MB':>7} "
               f"{'loss':>7} {'worst':>7} {'pkt/s':>6} {'udp drop r/s':>12} {'join p50/p99 ms':>15} "
               f"{'1st pkt p99':>8} {'API p99':>8} {'fail':>4} {'load1':>5}")


def _print_step(s: Step) -> None:
    print(f"  {s.listeners:>9} {s.server_cores * 100:>9.1f}% {s.core_busy * 100:>6.0f}% {s.core_softirq * 100:>4.0f}% "
          f"{s.core_steal * 100:>4.0f}% {s.gen_cores * 100:>6.0f}% {s.rss_mb:>7.1f} "
          f"{s.loss * 100:>6.2f}% {s.worst_loss * 100:>6.2f}% {s.pkts_per_listener:>6.1f} "
          f"{f'{s.rcvbuf_drops}/{s.sndbuf_drops}':>12} "
          f"{s.join_p50:>7.0f}/{s.join_p99:<7.0f} {s.first_packet_p99:>8.0f} {s.api_join_p99:>8.0f} "
          f"{s.failed:>4} {s.load1:>5.1f}", flush=True)


async def _host(url: str, token: str, *, silent: bool = False, dtx: bool = False):
    from tests.integration.audio_clients import Tone, connect

    client = await connect(url, token)
    tone = Tone(440.0, silent=silent)
    await tone.publish(client, dtx=dtx)
    return client, tone


def steps(api: HttpApi, gen: LoadGen, pid: int, space_id: str) -> list[Step]:
    print(STEP_HEADER)
    done: list[Step] = []
    joined: set[str] = set()
    began = time.monotonic()
    for target in STEPS:
        if time.monotonic() - began > BUDGET_S:
            print(f"  (time budget of {BUDGET_S:.0f}s spent: stopped before {target} listeners)")
            break
        users = [f"listener{i}" for i in range(len(joined), target)]
        ok, api_ms, api_errors = api_joins(api, space_id, users)
        new = set()
        for user, answer in ok:
            gen.join(user, answer["livekit_url"], answer["token"])
            new.add(user)
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while time.monotonic() < deadline and gen.count("subscribed", new) + gen.count("failed", new) < len(new):
            time.sleep(0.2)
        joined |= new
        failed = gen.count("failed", joined) + api_errors + (len(new) - gen.count("subscribed", new)
                                                             - gen.count("failed", new))
        w = _window(pid, gen)
        join_ms, first_ms = gen.times("joined", new), gen.times("subscribed", new)
        step = Step(listeners=gen.count("subscribed", joined), server_cores=w.server_cores, core_busy=w.core_busy,
                    gen_cores=w.gen_cores, rss_mb=w.rss_mb, loss=w.loss, worst_loss=w.worst_loss,
                    pkts_per_listener=w.pkts_per_listener, core_softirq=w.core_softirq, core_steal=w.core_steal,
                    rcvbuf_drops=w.rcvbuf_drops, sndbuf_drops=w.sndbuf_drops,
                    join_p50=percentile(join_ms, 0.5) if join_ms else 0, join_p99=percentile(join_ms, 0.99) if join_ms else 0,
                    first_packet_p99=percentile(first_ms, 0.99) if first_ms else 0,
                    api_join_p99=percentile(api_ms, 0.99) if api_ms else 0, failed=failed, load1=os.getloadavg()[0])
        done.append(step)
        _print_step(step)
        if failed:
            print(f"  {failed} listener(s) did not join or get a packet within {JOIN_TIMEOUT_S:.0f}s: stopped here "
                  f"(commonest error: {gen.commonest_error(joined) or 'none, timed out'}; {api_errors} API errors)")
            break
        if w.server_cores >= SATURATED:
            print(f"  the server uses {w.server_cores:.0%} of its core: saturated, stopped here")
            break
        if w.loss > LOSS_LIMIT:
            print(f"  loss {w.loss:.2%} passed {LOSS_LIMIT:.0%}: stopped here")
            break
    return done


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    return slope, my - slope * mx


def summary(result: list[Step], base_cores: float, base_rss: float) -> None:
    if len(result) < 2:
        print("  too few steps for a per-listener figure")
        return
    xs = [0.0] + [float(s.listeners) for s in result]
    cpu, cpu0 = _fit(xs, [base_cores] + [s.server_cores for s in result])
    mem, _ = _fit(xs, [base_rss] + [s.rss_mb for s in result])
    top = result[-1]
    at80 = (0.8 - cpu0) / cpu if cpu > 0 else float("inf")
    pub = LIVEKIT_PUBLISHED
    pub_per_core = pub["subscribers"] * pub["publishers"] / pub["cores"]
    print("\n  measured vs LiveKit's published audio-only benchmark (forwarded audio tracks per core):")
    print(f"  {'':<34} {'this bench':>14} {'LiveKit docs':>14}")
    print(f"  {'server CPU per listener':<34} {cpu * 100:>13.3f}% {0.8 / pub_per_core * 100:>13.3f}%  (of a core)")
    print(f"  {'server memory per listener':<34} {mem * 1024:>11.0f} KiB {'n/a':>14}")
    print(f"  {'listeners per core at 80% CPU':<34} {at80:>14,.0f} {pub_per_core:>14,.0f}")
    print(f"  {'largest measured step':<34} {top.listeners:>14,} {pub['subscribers'] * pub['publishers']:>14,}"
          f"  ({top.server_cores:.0%} of a core, loss {top.loss:.2%})")
    print(f"  {'packets out per core':<34} {top.pkts_per_listener * top.listeners / max(top.server_cores, 1e-9):>14,.0f}"
          f" {pub['packets_out'] / pub['cores'] / pub['cpu']:>14,.0f}  (per fully busy core)")
    print(f"  LISTENERS_PER_CORE_AT_80 = {at80:,.0f}")
    print("  caveats: loopback, one room, one Opus publisher, the generator and API share the other core, and "
          f"other jobs on this box add load (load average {os.getloadavg()[0]:.1f} now; above ~1.5 the server core "
          "is contended).")


def storm(api: HttpApi, gen: LoadGen, pid: int, space_id: str, key: str, secret: str, url: str, hidden: bool,
          tag: str) -> None:
    from livekit import api as lk

    users = [f"{tag}{i}" for i in range(STORM)]
    if not hidden:  # the API's listener grants without hidden, signed the same way
        answers = [(u, {"livekit_url": url, "token": lk.AccessToken(key, secret).with_identity(u).with_grants(
            lk.VideoGrants(room_join=True, room=space_id, can_subscribe=True, can_publish=False,
                           can_publish_data=False, hidden=False)).with_attributes({"role": "listener"}).to_jwt()})
                   for u in users]
    else:  # the API's own listener tokens (hidden)
        answers, api_ms, errors = api_joins(api, space_id, users)
        print(f"  API join storm: {STORM} POST /join from {STORM_THREADS} threads: p50 {percentile(api_ms, .5):.0f} ms, "
              f"p99 {percentile(api_ms, .99):.0f} ms, {errors} errors, load1 {os.getloadavg()[0]:.1f}")
    events0 = gen.report()["participant_events"]
    cpu0, began = cpu_seconds(pid), time.monotonic()
    for user, answer in answers:
        gen.join(user, answer["livekit_url"], answer["token"])
    ids = {u for u, _ in answers}
    deadline = began + JOIN_TIMEOUT_S
    while time.monotonic() < deadline and gen.count("subscribed", ids) + gen.count("failed", ids) < len(ids):
        time.sleep(0.1)
    took = time.monotonic() - began
    time.sleep(1.0)
    cpu = cpu_seconds(pid) - cpu0
    events = gen.report()["participant_events"] - events0
    joins = gen.times("joined", ids)
    print(f"  {'hidden' if hidden else 'visible':>7} storm of {STORM}: {gen.count('subscribed', ids)} hearing in "
          f"{took:.1f}s, join p50 {percentile(joins, .5) if joins else 0:.0f} ms p99 "
          f"{percentile(joins, .99) if joins else 0:.0f} ms, server CPU {cpu:.1f} s, "
          f"{events:,} participant updates fanned out to listeners, {gen.count('failed', ids)} failed, "
          f"load1 {os.getloadavg()[0]:.1f}", flush=True)
    if gen.count("failed", ids):
        print(f"          commonest error: {gen.commonest_error(ids)}")


def dtx_case(api: HttpApi, gen: LoadGen, pid: int, space_id: str, case: str, tag: str) -> None:
    """The server's cost of one stage publisher's audio to ``DTX_LISTENERS`` listeners: with DTX
    a silent microphone sends a packet every ~400 ms instead of every 20 ms, and the server
    forwards what it gets."""
    users = [f"{tag}-{i}" for i in range(DTX_LISTENERS)]
    ok, _, errors = api_joins(api, space_id, users)
    for user, answer in ok:
        gen.join(user, answer["livekit_url"], answer["token"])
    ids = {u for u, _ in ok}
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    while time.monotonic() < deadline and gen.count("subscribed", ids) + gen.count("failed", ids) < len(ids):
        time.sleep(0.2)
    w = _window(pid, gen)
    print(f"  {case:<24} {gen.count('subscribed', ids):>9} {w.server_cores * 100:>9.1f}% {w.pkts_per_listener:>14.1f} "
          f"{errors + gen.count('failed', ids):>6} {os.getloadavg()[0]:>5.1f}", flush=True)


def main() -> None:
    from tests.processes import StartFailed, start_livekit

    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        print("  needs 2 cores and taskset (server and generator on their own cores)")
        return
    os.sched_setaffinity(0, {CLIENT_CORE})  # this process and every thread it starts from now on
    binary = build_loadgen()
    build = subprocess.run(["bash", str(ROOT / "livekit" / "build.sh")], capture_output=True, text=True)
    if binary is None or build.returncode != 0:
        print("  livekit-server or the load generator is unavailable: skipped")
        return
    key, secret = "bench-scale", secrets.token_hex(24)
    print(f"one Space, a host publishing a 48 kHz Opus tone, Go subscribe-only listeners (RTP read, not decoded); "
          f"livekit-server on core {SERVER_CORE}, everything else on core {CLIENT_CORE}; load average at start "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other jobs add noise)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            server = start_livekit(build.stdout.strip().splitlines()[-1], Path(tmp), api_key=key, api_secret=secret)
        except StartFailed as exc:
            print(f"  livekit-server did not start: {str(exc)[-300:]}")
            return
        pin(server.server.process.pid, SERVER_CORE)
        pid = server.server.process.pid
        favoured = favour(pid) and favour(os.getpid())
        print(f"  server, generator and host {'at nice ' + str(FAVOURED_NICE) if favoured else 'at normal priority'}"
              " over the machine's other jobs")
        api, (moto, http_server) = start_api(server.url, key, secret)
        loop = asyncio.new_event_loop()  # the host's: runs all along, so its tone never stalls
        threading.Thread(target=loop.run_forever, name="host", daemon=True).start()

        def on_loop(coro):
            return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

        def open_space(host_user: str, title: str, *, silent: bool = False, dtx: bool = False):
            status, space = api.post("/v1/spaces", {"title": title}, token=api.host(host_user))
            assert status == 201, space
            host, tone = on_loop(_host(space["join"]["livekit_url"], space["join"]["token"], silent=silent, dtx=dtx))
            return space["id"], host, tone

        def close_host(host, tone) -> None:
            on_loop(tone.stop())
            on_loop(host.close())

        gen = LoadGen(binary)
        try:
            space_id, host, tone = open_space("host", "Scale")
            time.sleep(SETTLE_S)
            c0, began = cpu_seconds(pid), time.monotonic()
            time.sleep(WINDOW_S)
            base_cores, base_rss = (cpu_seconds(pid) - c0) / (time.monotonic() - began), rss_mb(pid)
            print(f"  host alone: server {base_cores:.1%} of a core, {base_rss:.0f} MB RSS")
            result = steps(api, gen, pid, space_id)
            summary(result, base_cores, base_rss)
            gen.close()
            close_host(host, tone)

            if os.environ.get("AIRWAVES_BENCH_SCALE_STEPS_ONLY"):  # the listener steps alone (a quicker rerun)
                return
            print(f"\njoin storms of {STORM} listeners into a fresh Space (signalling cost, visible vs hidden):")
            for hidden in (False, True):
                space_id, host, tone = open_space("host-h" if hidden else "host-v", "Storm")
                gen = LoadGen(binary, concurrency=STORM_CONNECTS)
                storm(api, gen, pid, space_id, key, secret, server.url, hidden, "h" if hidden else "v")
                gen.close()
                close_host(host, tone)

            print(f"\nOpus DTX for stage publishers: one publisher, {DTX_LISTENERS} listeners, a fresh Space each:")
            print(f"  {'case':<24} {'listeners':>9} {'server CPU':>10} {'pkt/s/listener':>14} {'fail':>6} {'load1':>5}")
            for n, (case, silent, dtx) in enumerate(DTX_CASES):
                space_id, host, tone = open_space(f"host-dtx{n}", "DTX", silent=silent, dtx=dtx)
                gen = LoadGen(binary)
                dtx_case(api, gen, pid, space_id, case, f"dtx{n}")
                gen.close()
                close_host(host, tone)
        finally:
            gen.close()
            http_server.server.shutdown()
            moto.stop()
            server.server.stop()
            loop.call_soon_threadsafe(loop.stop)

if __name__ == "__main__":
    main()
