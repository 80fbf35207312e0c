"""One JSON log line per API request, and its correlation id on every line logged meanwhile.

The id is the caller's ``X-Request-Id`` when it is a plausible id (so a client can follow its own
call through our logs), else API Gateway's request id; the answer carries it back in
``X-Request-Id``. The line says the method, the route's template (never the raw path or the
query, which can hold a signed link), the status and the time taken: no header, body or token.
"""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib import logs

REQUEST_ID_HEADER = "X-Request-Id"
_PLAUSIBLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_of(request: Any) -> str:
    """The caller's ``X-Request-Id`` if plausible, else API Gateway's id (then Lambda's, then a new one)."""
    for name, value in (getattr(request, "headers", None) or {}).items():
        if name.lower() == REQUEST_ID_HEADER.lower() and _PLAUSIBLE_ID.match(value or ""):
            return str(value)
    gateway = (getattr(request, "context", None) or {}).get("requestId")
    if gateway:
        return str(gateway)
    lambda_id = getattr(getattr(request, "lambda_context", None), "aws_request_id", None)
    return str(lambda_id) if lambda_id else str(uuid.uuid4())


def request_log_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    correlation_id = request_id_of(event)
    context = getattr(event, "context", None) or {}
    fields: dict[str, Any] = {"method": getattr(event, "method", None), "route": context.get("resourcePath")}
    started = time.monotonic()
    with logs.correlated(correlation_id):
        try:
            response = get_response(event)
        except BaseException:
            fields.update(status=500, duration_ms=_ms_since(started))
            logs.logger().exception("request", extra=fields)
            raise
        fields.update(status=response.status_code, duration_ms=_ms_since(started))
        logs.outcome("request", fields, failed=response.status_code >= 500)
    response.headers = {**(response.headers or {}), REQUEST_ID_HEADER: correlation_id}
    return response


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
