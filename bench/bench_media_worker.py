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
import os
import statistics
import time

from bench.media_stack import cpu_seconds, media_stack, rate, rss_mb
from bench.worker_venv import run_in_worker_venv

SPACES = int(os.environ.get("AIRWAVES_BENCH_MEDIA_SPACES", "3"))
WINDOW = float(os.environ.get("AIRWAVES_BENCH_MEDIA_WINDOW", "20"))


def run() -> None:
    from tests.integration import audio_clients as ac
    from tests.media.helpers import Space

    loop = asyncio.new_event_loop()
    spaces: list[Space] = []
    with media_stack() as stack:
        lk, s3, fake_api, pid = stack.lk, stack.s3, stack.fake_api, stack.pid
        try:
            time.sleep(3)
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


def main() -> None:
    run_in_worker_venv("bench.bench_media_worker", run)


if __name__ == "__main__":
    main()
