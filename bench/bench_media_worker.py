"""The media worker (issue 13): CPU and memory per recorded Space, clip latency, and the delay
from a Space's end to ``replay.state = available``.

Setup: the real livekit-server, moto's S3, the stand-in API of tests/media, the worker as its own
process (``python -m airwaves_media``, job processes forked by livekit-agents); N Spaces, each
with one host publishing a tone (a real SDK client in this process, not counted), recording on.
CPU is the worker's whole process tree (/proc utime+stime) over a window, minus its idle rate.

Runs in the worker's venv: under ``make bench`` (main venv) it re-runs itself there.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bench.worker_venv import ROOT, WORKER_PYTHONPATH, run_in_worker_venv

SPACES = int(os.environ.get("AIRWAVES_BENCH_MEDIA_SPACES", "3"))
WINDOW = float(os.environ.get("AIRWAVES_BENCH_MEDIA_WINDOW", "20"))
TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):  # children of every thread
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICKS


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rate(pid: int, seconds: float) -> float:
    a, t = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - a) / (time.monotonic() - t)


def run() -> None:
    from tests.integration import audio_clients as ac
    from tests.media.conftest import BUCKET, S3, LiveKit, Worker
    from tests.media.fake_api import FakeMediaApi
    from tests.media.helpers import Space
    from tests.processes import free_port, start_livekit
    from tests.real_servers import built_binary

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    binary = built_binary("livekit-server", ["bash", str(ROOT / "livekit" / "build.sh")])
    started = start_livekit(binary, work, api_key="bench", api_secret=secrets.token_hex(24))
    lk = LiveKit(started.url, started.api_url, started.api_key, started.api_secret)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    s3 = S3(endpoint, BUCKET, client)
    fake_api = FakeMediaApi(secrets.token_hex(16))
    worker = Worker({**os.environ, "PYTHONPATH": WORKER_PYTHONPATH,
                     "LIVEKIT_URL": lk.url, "LIVEKIT_API_KEY": lk.api_key, "LIVEKIT_API_SECRET": lk.api_secret,
                     "AIRWAVES_API_URL": fake_api.url, "AIRWAVES_MEDIA_WORKER_SECRET": fake_api.secret,
                     "AIRWAVES_MEDIA_BUCKET": BUCKET, "AWS_ENDPOINT_URL": endpoint,
                     "AIRWAVES_MEDIA_IDLE_PROCESSES": "1"}, work)
    loop = asyncio.new_event_loop()
    spaces: list[Space] = []
    try:
        worker.start()
        time.sleep(3)
        assert worker.process is not None
        pid = worker.process.pid
        idle = rate(pid, 5)
        idle_rss = rss_mb(pid)

        async def open_spaces() -> None:
            for _ in range(SPACES):
                space = Space(lk, fake_api, s3)
                await space.open(stage=["host"])
                await space.join("host", "host", hz=440)
                await space.dispatch()
                await space.wait_for_worker()
                spaces.append(space)

        loop.run_until_complete(open_spaces())

        async def hold(seconds: float) -> float:
            a, t = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(seconds)  # the tones keep playing on this loop
            return (cpu_seconds(pid) - a) / (time.monotonic() - t)

        busy = loop.run_until_complete(hold(WINDOW))
        busy_rss = rss_mb(pid)
        per_space = (busy - idle) / SPACES
        print(f"   worker idle: {idle * 100:.1f}% of a core, {idle_rss:.0f} MB RSS (process tree)")
        print(f"   {SPACES} recorded Spaces: {busy * 100:.1f}% of a core, {busy_rss:.0f} MB RSS over {WINDOW:.0f}s")
        print(f"   per recorded Space: {per_space * 100:.1f}% of a core, "
              f"{(busy_rss - idle_rss) / SPACES:.0f} MB -> ~{1 / per_space if per_space > 0 else float('inf'):.0f}"
              " Spaces per core (mixing + AAC encode + uploads; one job process per Space)")

        async def clips() -> list[float]:
            out = []
            for i in range(5):
                clip_id = f"bench-clip-{i}"
                asked = fake_api.request_clip(spaces[0].space_id, clip_id, 30)
                await ac.eventually(lambda c=clip_id: c in fake_api.clips, 30, "a clip")
                out.append(fake_api.clips[clip_id]["at"] - asked)
                await asyncio.sleep(0.5)
            return out

        latencies = loop.run_until_complete(clips())
        print(f"   clip of the last 30 s, asked -> available (poll 1 s): p50 {statistics.median(latencies):.2f}s "
              f"max {max(latencies):.2f}s (n={len(latencies)})")

        async def end_all() -> list[tuple[float, float]]:
            ends = [(await space.delete_room(), space) for space in spaces]
            out = []
            for ended, space in ends:
                report = await space.wait_for_replay(timeout=120)
                out.append((report["at"] - ended, report["duration_seconds"]))
            return out

        delays = loop.run_until_complete(end_all())
        print("   Space end (room deleted) -> replay available: "
              + ", ".join(f"{d:.2f}s for {length:.0f}s" for d, length in delays)
              + f" (all {SPACES} ended at once)")
    finally:
        for space in spaces:
            loop.run_until_complete(space.close())
        worker.stop()
        fake_api.close()
        moto.stop()
        started.server.stop()


def main() -> None:
    run_in_worker_venv("bench.bench_media_worker", run)


if __name__ == "__main__":
    main()
