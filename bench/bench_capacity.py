"""Listeners per LiveKit node: what one more listener costs the real ``livekit-server``.

One Space on a local livekit-server (``bench_media``'s starter, the local config on free loopback
ports): a host publishes a 48 kHz mono Opus tone, then subscribe-only listeners (the API's
listener grant) join in steps. At each step, once every listener is subscribed, the server
process's CPU time (utime + stime of ``/proc/<pid>/stat``, all threads) and RSS are sampled over
a steady window. A least-squares line through (listeners, server cores) gives the CPU-seconds one
listener costs per second, through (listeners, RSS) its memory; dividing the cluster's CPU scaling
target on the default instance type (read from ``infra/cluster_template.py``) by the per-listener
cost gives the per-node estimate.

A few listeners also report their received audio packets (WebRTC stats), to show the server really
forwarded ~50 packets/s to each; the client process's own CPU and the machine's idle share are
printed because the listeners run on the same cores as the server. Bounded: at most 100 listeners,
no new step after ``BUDGET_S``, a step that cannot connect or subscribe everyone ends the run (on a
2-core box the listener clients saturate the CPU near 100; the whole run takes ~1.5-2 minutes).

Caveats, printed with the result: loopback (no NIC, no real network loss or retransmits), one room,
audio only, one publisher, no TURN, this machine's cores rather than a c6i's vCPUs, Python clients
competing for the same CPU, and a straight-line extrapolation beyond the largest measured step.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = (10, 25, 50, 75, 100)  # the listener clients saturate this machine's 2 cores near 100
CONNECT_BATCH = 10  # listeners connecting at once
SUBSCRIBE_S = 20.0  # every listener of a step must be subscribed to the host within this
SETTLE_S = 3.0  # after the last listener subscribed, before the window opens
WINDOW_S = 8.0  # the steady window each step is measured over
BUDGET_S = 150.0  # no new step starts once this much time has passed (the whole run stays < 3 min)
SAMPLED_LISTENERS = 5  # listeners whose WebRTC stats prove delivery
INSTANCE_SIZES = {"c6i.xlarge": (4, 8192)}  # vCPUs, MiB (AWS instance type specs)
MEMORY_SHARE = 0.7  # of a node's RAM the server may use
TICK = os.sysconf("SC_CLK_TCK")
SPACE = "sp_capacity"


# -- process sampling ------------------------------------------------------------------------
def cpu_seconds(pid: int | str) -> float:
    """User + system CPU time of a process, all threads (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_idle_ticks() -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[3] + values[4], sum(values[:8])


@dataclass
class Step:
    listeners: int
    server_cores: float  # server CPU-seconds per second over the window (1.0 = one core busy)
    rss_mb: float
    client_cores: float
    machine_idle: float  # share of all cores idle during the window
    packets_per_s: float  # audio packets/s received by each sampled listener (mean)


async def _audio_packets(client) -> int:
    stats = await client.room.get_rtc_stats()
    return sum(s.inbound_rtp.received.packets_received for s in [*stats.subscriber_stats, *stats.publisher_stats]
               if s.WhichOneof("stats") == "inbound_rtp" and s.inbound_rtp.stream.kind == "audio")


async def _window(pid: int, listeners: list) -> Step:
    sampled = listeners[:SAMPLED_LISTENERS]
    await asyncio.sleep(SETTLE_S)
    packets0 = [await _audio_packets(c) for c in sampled]
    idle0, total0 = machine_idle_ticks()
    server0, client0, began = cpu_seconds(pid), cpu_seconds("self"), time.monotonic()
    rss = []
    while time.monotonic() - began < WINDOW_S:
        await asyncio.sleep(0.5)
        rss.append(rss_mb(pid))
    elapsed = time.monotonic() - began
    server1, client1 = cpu_seconds(pid), cpu_seconds("self")
    idle1, total1 = machine_idle_ticks()
    packets1 = [await _audio_packets(c) for c in sampled]
    per_s = [(b - a) / elapsed for a, b in zip(packets0, packets1, strict=False)]
    return Step(listeners=len(listeners), server_cores=(server1 - server0) / elapsed,
                rss_mb=sum(rss) / len(rss), client_cores=(client1 - client0) / elapsed,
                machine_idle=(idle1 - idle0) / max(1, total1 - total0),
                packets_per_s=sum(per_s) / len(per_s) if per_s else 0.0)


# -- the run ---------------------------------------------------------------------------------
async def _steps(pid: int, port: int, key: str, secret: str, deadline: float) -> list[Step]:
    from chalicelib.adapters.livekit import LiveKitMedia
    from chalicelib.secrets import StaticSecrets
    from tests.integration.audio_clients import Tone, connect, eventually

    media = LiveKitMedia(StaticSecrets({"livekit_api_key": key, "livekit_api_secret": secret}), client_url=f"ws://127.0.0.1:{port}", api_url="",
                         token_ttl=timedelta(minutes=10), empty_timeout=300, departure_timeout=60)
    await asyncio.to_thread(media.create_room, SPACE)
    host = await connect(media.client_url, media.join_token(SPACE, "host", "host")[0])
    tone = Tone(440.0)
    await tone.publish(host)
    listeners: list = []
    steps = [await _window(pid, listeners)]  # the host alone: the room's fixed cost
    print(f"  {'listeners':>9} {'server CPU':>10} {'RSS MB':>7} {'clients CPU':>11} {'machine idle':>12} "
          f"{'pkts/s/listener':>15}")

    def show(s: Step) -> None:
        print(f"  {s.listeners:>9} {s.server_cores * 100:>9.1f}% {s.rss_mb:>7.1f} {s.client_cores * 100:>10.1f}% "
              f"{s.machine_idle * 100:>11.0f}% {s.packets_per_s:>15.1f}", flush=True)

    show(steps[0])
    try:
        for target in STEPS:
            if time.monotonic() > deadline:
                print(f"  (time budget spent: stopped before {target} listeners)")
                break
            failed = 0
            while len(listeners) < target:
                batch = range(len(listeners), min(target, len(listeners) + CONNECT_BATCH))
                results = await asyncio.gather(*(connect(media.client_url, media.join_token(
                    SPACE, f"listener{i}", "listener")[0]) for i in batch), return_exceptions=True)
                listeners += [r for r in results if not isinstance(r, BaseException)]
                failed += sum(isinstance(r, BaseException) for r in results)
                if failed:
                    break
            if failed:
                print(f"  {failed} listener(s) failed to connect on the way to {target}: stopped here")
                break
            try:
                await eventually(lambda group=listeners: all("host" in c.audio for c in group), SUBSCRIBE_S, "subscriptions")
            except AssertionError:
                heard = sum("host" in c.audio for c in listeners)
                print(f"  only {heard} of {len(listeners)} listeners subscribed within {SUBSCRIBE_S:.0f}s: "
                      "the machine sustains no more, stopped here")
                break
            steps.append(await _window(pid, listeners))
            show(steps[-1])
    finally:
        await tone.stop()
        for i in range(0, len(listeners), CONNECT_BATCH * 2):
            await asyncio.gather(*(c.close() for c in listeners[i:i + CONNECT_BATCH * 2]), return_exceptions=True)
        await host.close()
        await asyncio.to_thread(media.delete_room, SPACE)
    return steps


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def _estimate(steps: list[Step]) -> None:
    from infra.cluster_template import parameters

    if len(steps) < 3:
        print("  too few steps to fit a per-listener cost")
        return
    defaults = parameters()
    instance, target = defaults["InstanceType"]["Default"], defaults["CpuTargetPercent"]["Default"] / 100
    xs = [float(s.listeners) for s in steps]
    cpu_slope, cpu_base = _fit(xs, [s.server_cores for s in steps])
    mem_slope, mem_base = _fit(xs, [s.rss_mb for s in steps])
    print(f"per listener (least squares over {len(steps)} steps, 0..{steps[-1].listeners} listeners):")
    print(f"  server CPU {cpu_slope * 1000:.2f} ms per listener-second ({cpu_slope * 100:.3f}% of a core); "
          f"room + host alone {cpu_base * 100:.1f}% of a core")
    print(f"  server memory {mem_slope * 1024:.0f} KiB per listener; {mem_base:.0f} MB base RSS")
    print(f"  -> {target / cpu_slope:,.0f} listeners per core at the cluster's {target:.0%} CPU target "
          f"({1 / cpu_slope:,.0f} at 100%)")
    if instance in INSTANCE_SIZES:
        vcpus, mib = INSTANCE_SIZES[instance]
        by_cpu = (target * vcpus - cpu_base) / cpu_slope
        by_memory = (MEMORY_SHARE * mib - mem_base) / mem_slope if mem_slope > 0 else float("inf")
        print(f"  -> one {instance} node ({vcpus} vCPU, {mib // 1024} GiB): about {by_cpu:,.0f} listeners in one "
              f"Space at {target:.0%} CPU; memory ({MEMORY_SHARE:.0%} of RAM) would allow ~{by_memory:,.0f}")
        print(f"  => LISTENERS PER NODE ~ {min(by_cpu, by_memory):,.0f} (the lower bound of the two)")
    else:
        print(f"  (no vCPU count on file for the default instance type {instance}: per-core figure only)")
    print("  caveats: loopback (no NIC, loss or retransmits), one room, audio only (one Opus publisher), no TURN,")
    print("  this machine's cores rather than the instance's vCPUs, Python listener clients on the same cores,")
    print(f"  straight-line extrapolation beyond {steps[-1].listeners} measured listeners. Treat it as an upper bound.")


def main() -> None:
    from bench.bench_media import local_livekit_server

    began = time.monotonic()
    print(f"server cost per listener: one Space on a local livekit-server, a host publishing a 48 kHz Opus "
          f"tone, listeners in steps {STEPS} ({WINDOW_S:.0f}s windows, {os.cpu_count()} cores shared):")
    key, secret = "bench", secrets.token_hex(24)
    with local_livekit_server(key, secret) as server:
        if server is None:
            return
        pid, port = server
        steps = asyncio.run(_steps(pid, port, key, secret, began + BUDGET_S))
    _estimate(steps)
    print(f"  ({time.monotonic() - began:.0f}s)")


if __name__ == "__main__":
    main()
