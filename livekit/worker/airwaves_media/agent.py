"""The livekit-agents side: a worker registered as ``airwaves-media`` (explicit dispatch) that
accepts a job per Space room as the hidden identity ``airwaves-media`` and runs a ``Session``.

Run: ``python -m airwaves_media`` (env in ``config.py``). SIGTERM/SIGINT stop it; jobs close
their open HLS run first. A job whose room is deleted finalizes the replay (the SDK reports a
room deletion as an ordinary disconnect, so the job asks the server whether the room still
exists rather than trusting the reason).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
from pathlib import Path

from livekit.agents import (
    AgentServer,
    AutoSubscribe,
    JobContext,
    JobExecutorType,
    JobRequest,
    WorkerOptions,
    WorkerPermissions,
)

from airwaves_media.api_client import MediaApi
from airwaves_media.captions import engine_from_env
from airwaves_media.config import Settings
from airwaves_media.logs import configure, job_fields
from airwaves_media.session import Session
from airwaves_media.store import Store
from livekit import api

AGENT_NAME = "airwaves-media"
IDENTITY = "airwaves-media"
log = logging.getLogger("airwaves_media")


async def request(req: JobRequest) -> None:
    await req.accept(name="Airwaves media", identity=IDENTITY, attributes={"role": "media"})


async def entrypoint(ctx: JobContext) -> None:
    settings = Settings.from_env()
    try:
        space_id = json.loads(ctx.job.metadata or "{}").get("space_id") or ctx.job.room.name
    except ValueError:
        space_id = ctx.job.room.name
    ctx.log_context_fields = job_fields(space_id, ctx.job.id, ctx.job.dispatch_id, ctx.job.room.name)
    await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
    media_api = MediaApi(settings.api_url, settings.worker_secret, request_id=ctx.job.id)
    livekit = api.LiveKitAPI(settings.http_livekit_url, settings.livekit_api_key, settings.livekit_api_secret)
    workdir = Path(tempfile.mkdtemp(prefix=f"airwaves-{space_id}-"))
    session = Session(ctx.room, space_id, media_api=media_api, store=Store(settings.bucket, settings.aws_endpoint_url),
                      livekit=livekit, workdir=workdir, poll_seconds=settings.poll_seconds,
                      clip_buffer_seconds=settings.clip_buffer_seconds, engine=engine_from_env())

    async def on_shutdown(reason: str) -> None:
        try:
            await session.close(reason)
        finally:
            await media_api.aclose()
            await livekit.aclose()

    ctx.add_shutdown_callback(on_shutdown)
    await session.start()
    log.info("in the Space's room")
    await session.stopped.wait()
    ctx.shutdown("the Space ended")


def space_load(server: AgentServer) -> float:
    """Load as the share of this worker's Space capacity in use (``AIRWAVES_MEDIA_MAX_SPACES``,
    sized from ``make bench``), not host CPU: a busy neighbour must not make it refuse Spaces."""
    return len(server.active_jobs) / max(1, int(os.environ.get("AIRWAVES_MEDIA_MAX_SPACES", "20")))


def build_server() -> AgentServer:
    executor = JobExecutorType(os.environ.get("AIRWAVES_MEDIA_EXECUTOR", "process"))
    settings = Settings.from_env()
    return AgentServer.from_server_options(WorkerOptions(
        entrypoint_fnc=entrypoint, request_fnc=request, agent_name=AGENT_NAME, job_executor_type=executor,
        ws_url=settings.livekit_url, api_key=settings.livekit_api_key, api_secret=settings.livekit_api_secret,
        permissions=WorkerPermissions(can_publish=False, can_subscribe=True, can_publish_data=True, hidden=True),
        num_idle_processes=int(os.environ.get("AIRWAVES_MEDIA_IDLE_PROCESSES", "1")),
        shutdown_process_timeout=float(os.environ.get("AIRWAVES_MEDIA_FINALIZE_TIMEOUT", "300")),
        load_fnc=space_load, load_threshold=1.0, port=int(os.environ.get("AIRWAVES_MEDIA_HTTP_PORT", "0"))))


async def redispatch_orphans(settings: Settings, stop: asyncio.Event, every: float) -> None:
    """Recover Spaces whose worker died: LiveKit does not dispatch a job again when its worker
    goes away, so every ``every`` seconds each worker looks for rooms that have our dispatch but
    no ``airwaves-media`` participant, twice in a row (a fresh dispatch is still joining), and
    dispatches them again. The new job reads the replay's playlist back from S3 and goes on; the
    time nobody was in the room is a gap in the replay (``#EXT-X-DISCONTINUITY``)."""
    missing: set[str] = set()
    async with api.LiveKitAPI(settings.http_livekit_url, settings.livekit_api_key, settings.livekit_api_secret) as lk:
        while not stop.is_set():
            try:
                seen: set[str] = set()
                for room in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms:
                    ours = [d for d in await lk.agent_dispatch.list_dispatch(room.name) if d.agent_name == AGENT_NAME]
                    if not ours:
                        continue
                    people = (await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))).participants
                    if any(p.identity == IDENTITY for p in people):
                        continue
                    seen.add(room.name)
                    if room.name in missing:
                        log.warning("room %s lost its media worker: dispatching it again", room.name,
                                    extra={"space_id": room.name, "room": room.name, "dispatch_id": ours[0].id})
                        for d in ours:
                            await lk.agent_dispatch.delete_dispatch(d.id, room.name)
                        await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(
                            agent_name=AGENT_NAME, room=room.name, metadata=ours[0].metadata))
                        seen.discard(room.name)
                missing = seen
            except Exception:
                log.exception("the orphan sweep failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


async def run() -> None:
    settings = Settings.from_env()
    server = build_server()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(server.run(devmode=False))
    sweep = asyncio.create_task(redispatch_orphans(
        settings, stop, float(os.environ.get("AIRWAVES_MEDIA_SWEEP_SECONDS", "5"))))
    await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await sweep
    await server.aclose()  # jobs run their shutdown callbacks: open runs are closed and uploaded


def main() -> None:
    configure(os.environ.get("AIRWAVES_MEDIA_LOG_LEVEL", "INFO"))
    asyncio.run(run())
