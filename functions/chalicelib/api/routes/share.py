"""``GET /s/{id}``: a Space's public share page (HTML, no auth, briefly cached)."""
from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.routing import Call, endpoint
from chalicelib.container import get_container
from chalicelib.domain.share import CACHE_SECONDS, render_not_found, render_share_page

bp = Blueprint(__name__)

_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": f"public, max-age={CACHE_SECONDS}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src https:"}


def _not_found() -> Response:
    """A malformed id is as unknown as a missing one: the same plain HTML page, not JSON."""
    return Response(body=render_not_found(), status_code=404, headers=dict(_HEADERS))


@endpoint(bp, "GET", "/s/{space_id}", tag="sharing", auth=False, errors=(404,), invalid_id=_not_found,
          summary="A Space's public share page: title, host, state, listener count or start time, Open Graph "
                  "and Twitter card tags, and a link into the app (text/html)")
def share_page(call: Call, space_id: str) -> Response:
    page = get_container().share.page(space_id)
    if page is None:
        return _not_found()
    return Response(body=render_share_page(page), status_code=200, headers=dict(_HEADERS))
