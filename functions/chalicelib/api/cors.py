"""CORS for the web app: only the configured origins (``cors_allowed_origins``) may call the API
from a browser.

Every route also answers ``OPTIONS`` (the preflight, registered once per path by ``routing``), and
the middleware adds ``Access-Control-Allow-Origin`` to every answer, errors included, when the
request's ``Origin`` is allowed. An origin that is not allowed gets no CORS headers at all, so the
browser refuses the response; non-browser clients are not affected.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.settings import Settings, get_settings

ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
EXPOSED_HEADERS = "Idempotent-Replayed, X-Request-Id"
PREFLIGHT_MAX_AGE = "600"


def _origin(headers: Any) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "origin":
            return str(value)
    return None


def allowed_origin(origin: str | None, settings: Settings) -> str | None:
    """``origin`` when this stage lets it call the API, else None."""
    if origin and origin.rstrip("/") in {o.rstrip("/") for o in settings.cors_allowed_origins if o}:
        return origin
    return None


def cors_headers(origin: str | None, settings: Settings) -> dict[str, str]:
    allowed = allowed_origin(origin, settings)
    if allowed is None:
        return {"Vary": "Origin"} if settings.cors_allowed_origins else {}
    return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin", "Access-Control-Expose-Headers": EXPOSED_HEADERS}


def preflight_response(request_headers: Any, methods: list[str]) -> Response:
    """The answer to a browser's ``OPTIONS`` preflight for a path serving ``methods``."""
    settings = get_settings()
    headers: dict[str, str | list[str]] = {**cors_headers(_origin(request_headers), settings)}
    if "Access-Control-Allow-Origin" in headers:
        headers.update({"Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
                        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
    return Response(body="", status_code=204, headers=headers)


def cors_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Add the CORS headers for an allowed ``Origin`` to every answer (errors included)."""
    response = get_response(event)
    extra = cors_headers(_origin(getattr(event, "headers", None)), get_settings())
    if extra:
        response.headers = {**(response.headers or {}), **extra}
    return response
