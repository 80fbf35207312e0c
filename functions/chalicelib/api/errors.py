"""The contract's error shape, produced in one place.

``{"error": {"code": "<snake_case>", "message": "<sentence>", "details": ...}}``. Domain errors,
pydantic validation errors and Chalice's own early answers (405, 415, 500) all leave through here.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalice.app import Response

from chalicelib.domain.errors import AirwavesError

JSON_HEADERS = {"Content-Type": "application/json"}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    return Response(body=json.dumps(error_body(code, message, details)), status_code=status,
                    headers=dict(JSON_HEADERS))


def from_airwaves_error(exc: AirwavesError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details)


def validation_details(errors: Sequence[Mapping[str, Any]], prefix: str = "") -> list[dict[str, str]]:
    """pydantic's errors as ``[{"field": "ticket.price_cents", "message": "..."}]``."""
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        field = ".".join(([prefix] if prefix else []) + loc) or prefix or "body"
        message = err.get("msg", "is invalid")
        if err.get("type") == "json_invalid":
            field, message = "body", "is not valid JSON"
        details.append({"field": field, "message": message})
    return details


# No route for the path, whatever the method: the local server's and API Gateway's own answer.
NOT_FOUND_PATH = ("not_found", "there is no such path in this API; see /v1/openapi.json")

_CHALICE_CODES = {
    405: ("method_not_allowed", "this method is not allowed on this path"),
    415: ("unsupported_media_type", "send JSON with Content-Type: application/json"),
    500: ("internal_error", "something went wrong on our side; it has been logged"),
}


def contract_error_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Reshape the answers Chalice gives before a view runs (or when one crashes)."""
    response = get_response(event)
    body = response.body
    if isinstance(body, dict) and "Code" in body and response.status_code in _CHALICE_CODES:
        code, message = _CHALICE_CODES[response.status_code]
        headers = {**(response.headers or {}), **JSON_HEADERS}
        return Response(body=json.dumps(error_body(code, message)), status_code=response.status_code,
                        headers=headers)
    return response
