"""Replays, clips and transcripts (public), and the media worker's internal routes."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.media_schemas import (
    CaptionEngineReportIn,
    ClipOut,
    ClipPage,
    ClipReportIn,
    RecordingReportIn,
    ReplayOut,
    ReplayPatchIn,
    SegmentsIn,
    TranscriptItemOut,
    TranscriptOut,
    TranscriptQuery,
    WorkerSpaceOut,
)
from chalicelib.api.routing import Call, Caller, endpoint
from chalicelib.api.schemas import PageQuery
from chalicelib.container import get_container
from chalicelib.domain.recordings import to_webvtt

bp = Blueprint(__name__)


# -- replays ---------------------------------------------------------------------------------------
@endpoint(bp, "GET", "/v1/spaces/{space_id}/replay", optional_part=True, caller=Caller.signed_in, tag="replays", response=ReplayOut,
          summary="A Space's replay with time-limited playback (HLS) and download (Ogg Opus) URLs",
          errors=(401, 403, 404, 503))
def get_replay(call: Call, space_id: str) -> ReplayOut:
    return ReplayOut.of(get_container().replays.get(call.user_id, space_id))


@endpoint(bp, "PATCH", "/v1/spaces/{space_id}/replay", optional_part=True, caller=Caller.host, tag="replays", body=ReplayPatchIn, response=ReplayOut,
          summary="Trim the replay's start (host)", errors=(400, 401, 403, 404, 503))
def trim_replay(call: Call, space_id: str) -> ReplayOut:
    b: ReplayPatchIn = call.body
    return ReplayOut.of(get_container().replays.trim(call.user_id, space_id, b.start_offset_seconds))


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}/replay", optional_part=True, caller=Caller.host, tag="replays", status=204,
          summary="Delete the replay and every recorded file of the Space, clips included (host)",
          errors=(401, 403, 404, 409, 503))
def delete_replay(call: Call, space_id: str) -> None:
    get_container().replays.delete(call.user_id, space_id)


@endpoint(bp, "GET", "/v1/spaces/{space_id}/transcript", optional_part=True, caller=Caller.signed_in, tag="replays", query=TranscriptQuery, response=TranscriptOut,
          summary="A Space's transcript (seconds since it started); `?format=vtt` answers WebVTT (text/vtt)",
          errors=(401, 403, 404), also_produces=("text/vtt",))
def get_transcript(call: Call, space_id: str) -> TranscriptOut | Response:
    q: TranscriptQuery = call.query
    segments = get_container().replays.transcript(call.user_id, space_id)
    if q.format == "vtt":
        return Response(body=to_webvtt(segments), status_code=200, headers={"Content-Type": "text/vtt; charset=utf-8"})
    return TranscriptOut(items=[TranscriptItemOut(speaker_id=s.speaker_id, start_seconds=s.start_seconds,
                                                  end_seconds=s.end_seconds, text=s.text) for s in segments])


# -- clips -----------------------------------------------------------------------------------------
@endpoint(bp, "POST", "/v1/spaces/{space_id}/clips", caller=Caller.audience, tag="clips", status=201, creates=("clip_id", "id"), response=ClipOut, idempotent=True,
          summary="Clip the last seconds of the stage (while live); `pending` until the file is ready",
          errors=(401, 403, 404, 409, 429, 503))
def create_clip(call: Call, space_id: str) -> ClipOut:
    return ClipOut.of(get_container().clips.create(call.user_id, space_id))


@endpoint(bp, "GET", "/v1/spaces/{space_id}/clips", caller=Caller.signed_in, tag="clips", query=PageQuery, response=ClipPage,
          summary="A Space's clips, newest first", errors=(401, 403, 404))
def list_clips(call: Call, space_id: str) -> ClipPage:
    page = call.page(f"clips:{space_id}")
    clips = get_container().clips.page(call.user_id, space_id, page.request)
    return ClipPage(items=[ClipOut.of(c) for c in clips.items], next_cursor=page.next_cursor(clips))


@endpoint(bp, "GET", "/v1/clips/{clip_id}", tag="clips", response=ClipOut, summary="A clip",
          errors=(401, 403, 404))
def get_clip(call: Call, clip_id: str) -> ClipOut:
    return ClipOut.of(get_container().clips.get(call.user_id, clip_id))


# -- the media worker (internal: its bearer secret, not in the public OpenAPI) -----------------------
@endpoint(bp, "GET", "/internal/media/spaces/{space_id}", tag="internal", response=WorkerSpaceOut, internal=True,
          summary="What the media worker needs to know about a Space (polled while in the room)")
def worker_space(call: Call, space_id: str) -> WorkerSpaceOut:
    return WorkerSpaceOut.of(get_container().media_worker.view(space_id))


@endpoint(bp, "PUT", "/internal/media/spaces/{space_id}/recording", tag="internal", body=RecordingReportIn,
          status=204, internal=True, summary="The worker reports the recording's state")
def worker_recording(call: Call, space_id: str) -> None:
    b: RecordingReportIn = call.body
    get_container().media_worker.report_recording(space_id, state=b.replay_state, duration_seconds=b.duration_seconds,
                                                  hls_key=b.hls_key, ogg_key=b.ogg_key)


@endpoint(bp, "PUT", "/internal/media/spaces/{space_id}/clips/{clip_id}", tag="internal", body=ClipReportIn,
          status=204, internal=True, summary="The worker reports a clip's outcome")
def worker_clip(call: Call, space_id: str, clip_id: str) -> None:
    b: ClipReportIn = call.body
    get_container().media_worker.report_clip(space_id, clip_id, state=b.clip_state, key=b.key,
                                             duration_seconds=b.duration_seconds)


@endpoint(bp, "POST", "/internal/media/spaces/{space_id}/transcript-segments", tag="internal", body=SegmentsIn,
          status=204, internal=True, summary="The worker delivers transcript segments (idempotent by segment_id)")
def worker_segments(call: Call, space_id: str) -> None:
    b: SegmentsIn = call.body
    get_container().media_worker.add_segments(space_id, [s.segment() for s in b.segments])



@endpoint(bp, "PUT", "/internal/media/caption-engine", tag="internal", body=CaptionEngineReportIn, status=204,
          internal=True, summary="The worker reports its caption engine and languages (Space views and health show them)")
def worker_caption_engine(call: Call) -> None:
    b: CaptionEngineReportIn = call.body
    get_container().caption_engines.report(b.engine, b.languages)


__all__ = ["bp"]
