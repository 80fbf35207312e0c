"""Spaces: create, read, edit, start, end, cancel and list."""
from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.routing import Call, Caller, endpoint
from chalicelib.api.schemas import SpaceCreateIn, SpaceListQuery, SpaceOut, SpacePage, SpacePatchIn
from chalicelib.container import get_container
from chalicelib.domain.spaces import SpaceState

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/spaces", tag="spaces", status=201, creates=("space_id", "id"), body=SpaceCreateIn, response=SpaceOut,
          idempotent=True, summary="Open a Space now or schedule one", errors=(400, 401, 403, 409, 503))
def create_space(call: Call) -> SpaceOut:
    b: SpaceCreateIn = call.body
    c = get_container()
    space = c.spaces.create(call.user_id, title=b.title, topics=b.topics, scheduled_start=b.scheduled_start,
                            ticket=b.ticket.offer() if b.ticket else None, options=b.options())
    return SpaceOut.of(space, engine=c.caption_engines.current(), join=c.joins.host_credentials(space))


@endpoint(bp, "GET", "/v1/spaces/{space_id}", tag="spaces", response=SpaceOut, summary="A Space",
          errors=(401, 404))
def get_space(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    return SpaceOut.of(c.spaces.get(space_id), engine=c.caption_engines.current())


@endpoint(bp, "PATCH", "/v1/spaces/{space_id}", caller=Caller.host, tag="spaces", body=SpacePatchIn, response=SpaceOut,
          summary="Edit a scheduled Space; recording, captions and clips also while live (host)",
          errors=(400, 401, 403, 404, 409))
def patch_space(call: Call, space_id: str) -> SpaceOut:
    b: SpacePatchIn = call.body
    c = get_container()
    space = c.spaces.edit(call.user_id, space_id, title=b.title, topics=b.topics, scheduled_start=b.scheduled_start,
                          options=b.options())
    return SpaceOut.of(space, engine=c.caption_engines.current())


@endpoint(bp, "POST", "/v1/spaces/{space_id}/start", caller=Caller.host, tag="spaces", response=SpaceOut, idempotent=True,
          summary="Start a scheduled Space (host)", errors=(401, 403, 404, 409, 503))
def start_space(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    space = c.spaces.start(call.user_id, space_id)
    return SpaceOut.of(space, engine=c.caption_engines.current(), join=c.joins.host_credentials(space))


@endpoint(bp, "POST", "/v1/spaces/{space_id}/end", caller=Caller.moderators, tag="spaces", response=SpaceOut, idempotent=True,
          summary="End a live Space (host or co-host); everyone is disconnected",
          errors=(401, 403, 404, 409, 503))
def end_space(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    return SpaceOut.of(c.spaces.end(call.user_id, space_id), engine=c.caption_engines.current())


@endpoint(bp, "DELETE", "/v1/spaces/{space_id}", caller=Caller.host, tag="spaces", response=SpaceOut,
          summary="Cancel a scheduled Space (host); sold tickets are refunded",
          errors=(401, 403, 404, 409, 503))
def cancel_space(call: Call, space_id: str) -> SpaceOut:
    c = get_container()
    return SpaceOut.of(c.spaces.cancel(call.user_id, space_id), engine=c.caption_engines.current())


@endpoint(bp, "GET", "/v1/spaces", tag="spaces", query=SpaceListQuery, response=SpacePage,
          summary="List live or scheduled Spaces, by topic, or live from people I follow",
          errors=(400, 401))
def list_spaces(call: Call) -> SpacePage:
    q: SpaceListQuery = call.query
    page = call.page(f"spaces:{q.state}:{q.topic or ''}:" + (f"following:{call.user_id}" if q.following else "all"))
    c = get_container()
    if q.following:
        spaces = c.spaces.following_live(call.user_id, topic=q.topic, page=page.request)
    else:
        spaces = c.spaces.list(SpaceState(q.state), topic=q.topic, page=page.request)
    engine = c.caption_engines.current()
    return SpacePage(items=[SpaceOut.of(s, engine=engine) for s in spaces.items], next_cursor=page.next_cursor(spaces))
