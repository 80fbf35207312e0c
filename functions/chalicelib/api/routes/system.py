"""The API root, health, the generated OpenAPI document and its docs page (served offline), and the
local stage's dev-only helpers (tokens, completing a ticket's payment)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api.auth import mint_dev_token
from chalicelib.api.routing import Call, endpoint
from chalicelib.api.schemas import DevTokenIn, DevTokenOut, HealthOut, LivenessOut
from chalicelib.api.system_schemas import ApiRootOut, DevPaymentOut
from chalicelib.container import get_container
from chalicelib.domain.errors import NotFound
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


@endpoint(bp, "GET", "/", tag="operations", auth=False, response=ApiRootOut,
          summary="Where to start: links to the docs, the OpenAPI document, health and the web app")
def root(call: Call) -> ApiRootOut:
    settings = get_settings()
    return ApiRootOut(stage=settings.stage, docs_url="/v1/docs", openapi_url="/v1/openapi.json",
                      health_url="/v1/health", web_app_url=settings.web_app_url or None,
                      message="This is the Airwaves HTTP API (v1). Every route is under /v1; "
                              "read /v1/docs, or open the web app to listen and host.")


@endpoint(bp, "GET", "/v1/health", tag="operations", auth=False, response=HealthOut,
          summary="The state of each dependency, from a deep check at most health_cache_seconds (30) old")
def health(call: Call) -> HealthOut:
    c = get_container()
    states, age = c.health.cached()
    return HealthOut.of(states, stage=get_settings().stage, age=age, engine=c.caption_engines.current())


@endpoint(bp, "GET", "/v1/health/live", tag="operations", auth=False, response=LivenessOut,
          summary="Liveness: answers without calling any dependency")
def liveness(call: Call) -> LivenessOut:
    return LivenessOut(status="ok", stage=get_settings().stage)


@endpoint(bp, "GET", "/v1/admin/health", tag="operations", admin=True, response=HealthOut, errors=(401, 403),
          summary="A fresh deep check of each dependency (admin scope)")
def deep_health(call: Call) -> HealthOut:
    c = get_container()
    return HealthOut.of(c.health.run(), stage=get_settings().stage, engine=c.caption_engines.current())


@endpoint(bp, "GET", "/v1/openapi.json", tag="operations", auth=False,
          summary="This API's OpenAPI 3.1 document, generated from its models")
def openapi(call: Call) -> dict[str, Any]:
    from chalicelib.api.openapi import served_openapi

    return served_openapi(include_dev=get_settings().is_local)


@endpoint(bp, "GET", "/v1/docs", tag="operations", auth=False, summary="Human-readable API docs")
def docs(call: Call) -> Response:
    from chalicelib.api.docs import DOCS_HTML

    return Response(body=DOCS_HTML, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@endpoint(bp, "GET", "/v1/docs/assets/{name}", tag="operations", auth=False, errors=(404,),
          summary="The docs page's own files (Swagger UI, from a package: no CDN)")
def docs_asset(call: Call, name: str) -> Response:
    from chalicelib.api.docs import ASSETS, asset

    body = asset(name)
    if body is None:
        raise NotFound("no such docs file")
    return Response(body=body, status_code=200,
                    headers={"Content-Type": ASSETS[name], "Cache-Control": "public, max-age=86400"})


@endpoint(bp, "POST", "/v1/dev/tokens", tag="operations", auth=False, body=DevTokenIn, response=DevTokenOut,
          status=201, summary="Mint a token for any user (local stage only; 404 elsewhere)", errors=(404,))
def dev_token(call: Call) -> DevTokenOut:
    settings = get_settings()
    _local_only()
    token, exp = mint_dev_token(call.body.user_id, admin=call.body.admin, settings=settings)
    return DevTokenOut(token=token, expires_at=datetime.fromtimestamp(exp, UTC))



@endpoint(bp, "POST", "/v1/dev/spaces/{space_id}/tickets/{ticket_id}/pay", tag="operations", response=DevPaymentOut,
          summary="Complete my ticket's payment with a signed payment_intent.succeeded through the real "
                  "Stripe webhook code (local stage only, where stripe-mock sends no webhooks; 404 elsewhere)",
          errors=(404, 409, 503))
def dev_pay_ticket(call: Call, space_id: str, ticket_id: str) -> DevPaymentOut:
    _local_only()
    done = get_container().dev_payments.complete(call.user_id, space_id, ticket_id)
    return DevPaymentOut(ticket_id=done.ticket.id, space_id=done.ticket.space_id, status=done.ticket.status,
                         webhook_event_id=done.webhook.event_id, webhook_outcome=done.webhook.outcome)


def _local_only() -> None:
    """The dev-only routes exist in the local stage alone (404 in every deployed stage)."""
    settings = get_settings()
    if not settings.is_local or settings.auth_mode != "hs256":
        raise NotFound("no such route")
