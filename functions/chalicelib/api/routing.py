"""Declaring an endpoint once: route, auth, request and response models, status, idempotency.

``endpoint(...)`` registers the Chalice route and records the same facts for the OpenAPI
document, so the spec is generated from the code that serves. The wrapper parses and
validates, calls the view, and translates errors once; views only call services and answer.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib import invocation
from chalicelib.api.auth import Principal, authenticate, authenticate_media_worker
from chalicelib.api.errors import JSON_HEADERS, error_response, from_airwaves_error, validation_details
from chalicelib.api.paging import ListPage
from chalicelib.domain.errors import AirwavesError, ValidationFailed
from chalicelib.settings import get_settings

_PATH_VALUE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
PATH_VALUE_PATTERN = _PATH_VALUE.pattern  # the same rule, for the OpenAPI document


class Caller(str, Enum):
    """Who may call an endpoint: its declared authorization policy, relative to the Space in its
    path. The services enforce it (their checks give the precise reason); the authorization matrix
    (``tests/api/test_authorization_matrix.py``) derives every route's expected status per role from it."""

    anyone = "anyone"          # no token: public pages, health, docs
    signature = "signature"    # no token: the request carries its own signature (webhooks)
    worker = "worker"          # the media worker's bearer secret, never a user token
    signed_in = "signed_in"    # any valid token; what it reaches is the caller's own
    admin = "admin"            # a token whose scope holds admin
    audience = "audience"      # signed in and not removed from the Space in the path
    member = "member"          # someone who joined the Space (listener or on stage), not removed
    listeners = "listeners"    # signed in, not on the Space's stage and not removed (ticket buyers)
    stage = "stage"            # the Space's host, co-hosts and speakers
    moderators = "moderators"  # the Space's host and co-hosts
    host = "host"              # the Space's host only


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    tag: str
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    auth: bool = True
    admin: bool = False
    idempotent: bool = False
    errors: tuple[int, ...] = ()
    content_types: tuple[str, ...] = ("application/json",)
    internal: bool = False  # the media worker's: its bearer secret instead of a user token, not in OpenAPI
    invalid_id: Callable[[], Response] | None = None  # answers a malformed path id instead of the JSON 400
    caller: Caller = Caller.signed_in  # who may call it (see ``Caller``)
    also: tuple[int, ...] = ()  # other success statuses, same response model (201 created / 200 already there)
    signature_header: str | None = None  # a webhook: the header whose signature it verifies (401 when bad)
    also_produces: tuple[str, ...] = ()  # other media types of the success answer (text, e.g. ``text/vtt``)
    creates: tuple[str, str] | None = None  # (path parameter, response field): the new resource's id, for links
    optional_part: bool = False  # acts on a part its resource may not have yet (a replay): 404 then; no link to it


ENDPOINTS: list[Endpoint] = []
_PREFLIGHTS: set[str] = set()


@dataclass
class Call:
    """What a view gets: the caller, the parsed body and query, and the raw request."""

    principal: Principal | None
    body: Any
    query: Any
    raw_body: bytes
    headers: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        assert self.principal is not None
        return self.principal.user_id

    def page(self, scope: str) -> ListPage:
        """The page this call asks of the list ``scope`` (its query carries ``cursor`` and ``limit``)."""
        return ListPage.of(scope, self.query.cursor, self.query.limit)


@dataclass
class Reply:
    """A view's answer when it is not the endpoint's default status."""

    model: BaseModel | dict[str, Any] | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _dump(model: BaseModel | dict[str, Any] | None) -> str:
    if model is None:
        return ""
    if isinstance(model, BaseModel):
        return model.model_dump_json()
    return json.dumps(model)


def _parse(model: type[BaseModel], data: Any, *, json_text: bytes | None = None, prefix: str = "") -> Any:
    try:
        if json_text is not None:
            return model.model_validate_json(json_text or b"{}")
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc.errors(include_url=False), prefix)
        raise ValidationFailed("the request is not valid: " + "; ".join(
            f"{d['field']}: {d['message']}" for d in details), details=details) from exc


def endpoint(bp: Blueprint, method: str, path: str, *, summary: str, tag: str, status: int = 200,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, auth: bool = True, admin: bool = False,
             idempotent: bool = False, errors: tuple[int, ...] = (),
             content_types: tuple[str, ...] = ("application/json",),
             internal: bool = False,
             invalid_id: Callable[[], Response] | None = None,
             caller: Caller | None = None, also: tuple[int, ...] = (),
             signature_header: str | None = None,
             also_produces: tuple[str, ...] = (),
             creates: tuple[str, str] | None = None,
             optional_part: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    spec = Endpoint(method, path, summary, tag, status, body, query, response, auth and not internal, admin,
                    idempotent, errors, content_types, internal, invalid_id,
                    caller or _default_caller(auth=auth, admin=admin, internal=internal), also, signature_header,
                    also_produces, creates, optional_part)
    ENDPOINTS.append(spec)

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        def chalice_view(**path_params: str) -> Response:
            request = bp.current_request
            try:
                return _handle(spec, view, request, path_params)
            except AirwavesError as exc:
                return from_airwaves_error(exc)

        chalice_view.__name__ = view.__name__
        chalice_view.__doc__ = view.__doc__
        bp.route(path, methods=[method], content_types=list(content_types))(chalice_view)
        if path not in _PREFLIGHTS:
            _PREFLIGHTS.add(path)
            _register_preflight(bp, path)
        return view

    return register


def _default_caller(*, auth: bool, admin: bool, internal: bool) -> Caller:
    """The policy the other flags already imply; Space-scoped routes declare theirs."""
    if internal:
        return Caller.worker
    if not auth:
        return Caller.anyone
    return Caller.admin if admin else Caller.signed_in


def _register_preflight(bp: Blueprint, path: str) -> None:
    """``OPTIONS`` on ``path``: the CORS preflight (``api/cors.py``), answering for every method
    declared on the path by then (all are, before the first request)."""
    def preflight(**_: str) -> Response:
        from chalicelib.api.cors import preflight_response

        methods = sorted({ep.method for ep in ENDPOINTS if ep.path == path})
        return preflight_response(bp.current_request.headers, methods)

    preflight.__name__ = "preflight_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    bp.route(path, methods=["OPTIONS"])(preflight)


def _handle(spec: Endpoint, view: Callable[..., Any], request: Any, path_params: dict[str, str]) -> Response:
    settings = get_settings()
    invocation.bind(getattr(request, "lambda_context", None))
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    if spec.internal:
        authenticate_media_worker(headers.get("authorization"))
    principal = authenticate(headers.get("authorization"), settings) if spec.auth else None
    if spec.admin and principal is not None:
        principal.require_admin()
    for name, value in path_params.items():
        if not _PATH_VALUE.match(value or ""):
            if spec.invalid_id is not None:
                return spec.invalid_id()
            raise ValidationFailed(f"{name}: is not a valid id", details=[{"field": name, "message": "is not a valid id"}])
    raw = request.raw_body or b""
    call = Call(principal=principal, body=None, query=None, raw_body=raw, headers=headers, path_params=path_params)
    if spec.body is not None:
        call.body = _parse(spec.body, None, json_text=raw)
    if spec.query is not None:
        call.query = _parse(spec.query, dict(request.query_params or {}), prefix="")

    if not spec.idempotent:
        result = view(call, **path_params)
        if isinstance(result, Response):
            return result
        status, text = _as_status_text(spec, result)
        return Response(body=text, status_code=status, headers=dict(JSON_HEADERS) if text else {})

    def run() -> tuple[int, str]:
        return _as_status_text(spec, view(call, **path_params))

    key = headers.get("idempotency-key")
    if key is not None and principal is not None:
        if not 1 <= len(key) <= 255:
            raise ValidationFailed("Idempotency-Key: must be 1 to 255 characters",
                                   details=[{"field": "Idempotency-Key", "message": "must be 1 to 255 characters"}])
        from chalicelib.container import get_container
        from chalicelib.services.idempotency import fingerprint

        status, text, replayed = get_container().idempotency.run(
            f"{principal.user_id}#{key}", fingerprint(spec.method, spec.path + json.dumps(path_params, sort_keys=True), raw), run)
        extra: dict[str, str | list[str]] = {"Idempotent-Replayed": "true"} if replayed else {}
    else:
        status, text = run()
        extra = {}
    return Response(body=text, status_code=status, headers={**JSON_HEADERS, **extra} if text else extra)


def _as_status_text(spec: Endpoint, result: Any) -> tuple[int, str]:
    if isinstance(result, Reply):
        return result.status, _dump(result.model)
    return spec.status, _dump(result)


__all__ = ["ENDPOINTS", "Call", "Caller", "Endpoint", "Reply", "endpoint", "error_response"]
