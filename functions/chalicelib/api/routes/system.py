"""Health, the generated OpenAPI document and its docs page, and local-stage dev tokens."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api.auth import mint_dev_token
from chalicelib.api.routing import Call, endpoint
from chalicelib.api.schemas import DevTokenIn, DevTokenOut, HealthOut
from chalicelib.container import get_container
from chalicelib.domain.errors import NotFound
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@endpoint(bp, "GET", "/v1/health", tag="operations", auth=False, response=HealthOut,
          summary="Liveness and the state of each dependency")
def health(call: Call) -> HealthOut:
    return HealthOut.of(get_container().health.run(), stage=get_settings().stage)


@endpoint(bp, "GET", "/v1/openapi.json", tag="operations", auth=False,
          summary="This API's OpenAPI 3.1 document, generated from its models")
def openapi(call: Call) -> dict[str, Any]:
    from chalicelib.api.openapi import build_openapi

    return build_openapi()


@endpoint(bp, "GET", "/v1/docs", tag="operations", auth=False, summary="Human-readable API docs")
def docs(call: Call) -> Response:
    from chalicelib.api.openapi import DOCS_HTML

    return Response(body=DOCS_HTML, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@endpoint(bp, "POST", "/v1/dev/tokens", tag="operations", auth=False, body=DevTokenIn, response=DevTokenOut,
          status=201, summary="Mint a token for any user (local stage only; 404 elsewhere)", errors=(404,))
def dev_token(call: Call) -> DevTokenOut:
    settings = get_settings()
    if not settings.is_local or settings.auth_mode != "hs256":
        raise NotFound("no such route")
    token, exp = mint_dev_token(call.body.user_id, admin=call.body.admin, settings=settings)
    return DevTokenOut(token=token, expires_at=datetime.fromtimestamp(exp, UTC))

