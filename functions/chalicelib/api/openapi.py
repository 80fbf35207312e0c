"""The OpenAPI 3.1 document, generated from the registered endpoints and their pydantic models."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.routing import ENDPOINTS, PATH_VALUE_PATTERN, Endpoint
from chalicelib.api.schemas import ErrorOut

_STATUS_TEXT = {400: "Invalid request (`validation_error`)", 401: "Missing or invalid token (`unauthenticated`)",
                403: "Not allowed", 404: "Not found", 409: "Conflict with the current state",
                429: "Too many requests", 503: "A dependency is unavailable (`upstream_unavailable`)"}


def _operation_id(ep: Endpoint) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{ep.method}_{ep.path}").strip("_").lower()


def _add_links(endpoints: list[Endpoint], paths: dict[str, Any]) -> None:
    """OpenAPI links from each create to every operation that takes the id it made (``creates``);
    the consumer's other path values that the create's path names come from the create's request."""
    for producer in endpoints:
        if producer.creates is None:
            continue
        param, field = producer.creates
        own = set(re.findall(r"{(\w+)}", producer.path))
        links = {}
        for consumer in endpoints:
            names = re.findall(r"{(\w+)}", consumer.path)
            if consumer is producer or param not in names or consumer.optional_part:
                continue
            values = {n: f"$request.path.{n}" for n in names if n in own}
            values[param] = f"$response.body#/{field}"
            links[_operation_id(consumer)] = {"operationId": _operation_id(consumer), "parameters": values}
        if links:
            paths[producer.path][producer.method.lower()]["responses"][str(producer.status)]["links"] = links


def _signature_scheme(header: str) -> str:
    """``Stripe-Signature`` -> ``stripe_signature``: a webhook's security scheme."""
    return re.sub(r"[^a-z0-9]+", "_", header.lower()) + "_webhook"


@cache
def served_openapi(*, include_dev: bool) -> dict[str, Any]:
    """The document ``GET /v1/openapi.json`` answers, built once per process (its text patterns
    take seconds to build); never mutate it."""
    return build_openapi(include_dev=include_dev)


def build_openapi(*, server_url: str | None = None, include_dev: bool = True) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorOut}
    public = [ep for ep in ENDPOINTS if not ep.internal  # the media worker's routes stay out
              and (include_dev or not ep.path.startswith("/v1/dev/"))]  # dev routes: local stage only
    for ep in public:
        models.update(m for m in (ep.body, ep.response) if m is not None)
    bodies = {ep.body for ep in public if ep.body is not None}
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if m in bodies else "serialization") for m in sorted(models, key=lambda m: m.__name__)]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return refs[(model, mode)]

    paths: dict[str, Any] = {}
    for ep in public:
        op: dict[str, Any] = {"summary": ep.summary, "tags": [ep.tag],
                              "operationId": _operation_id(ep)}
        # path values are checked before the view runs (``routing.PATH_VALUE_PATTERN``): say so
        path_names = re.findall(r"{(\w+)}", ep.path)
        params = [{"name": n, "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": PATH_VALUE_PATTERN}} for n in path_names]
        if ep.query is not None:
            for name, field in ep.query.model_fields.items():
                schema = ep.query.model_json_schema()["properties"][name]
                params.append({"name": name, "in": "query", "required": field.is_required(), "schema": schema,
                               **({"description": field.description} if field.description else {})})
        if ep.idempotent:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                           "description": "A retry with the same key returns the first result."})
        if params:
            op["parameters"] = params
        if ep.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(ep.body, "validation")}}}
        ok: dict[str, Any] = {"description": "OK" if ep.status == 200 else "Created"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": ref(ep.response, "serialization")},
                             **{media: {"schema": {"type": "string"}} for media in ep.also_produces}}
        op["responses"] = {str(ep.status): ok}
        for status in ep.also:
            op["responses"][str(status)] = {**ok, "description": "Created" if status == 201 else "OK"}
        ids_checked = bool(path_names) and ep.invalid_id is None  # a page route answers its own 404 page instead
        checked = ep.body or ep.query or ids_checked or ep.idempotent  # each can answer 400
        implied = ({400} if checked else set()) | ({401} if ep.auth or ep.signature_header else set()) | (
            {409} if ep.idempotent else set())  # a key reused for another request, or still in flight
        for status in sorted(set(ep.errors) | implied):
            op["responses"][str(status)] = {"description": _STATUS_TEXT.get(status, "Error"),
                                            "content": {"application/json": {"schema": ref(ErrorOut, "serialization")}}}
        if ep.invalid_id is not None:
            op["responses"]["404"] = {"description": "Not found (an HTML page)",
                                      "content": {"text/html": {"schema": {"type": "string"}}}}
        op["security"] = ([{"bearer": []}] if ep.auth else
                          [{_signature_scheme(ep.signature_header): []}] if ep.signature_header else [])
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    _add_links(public, paths)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Airwaves API", "version": "1.0.0",
                 "description": "Live audio rooms: Spaces, roles, tickets. Errors use "
                                "`{\"error\": {\"code\", \"message\", \"details\"}}`."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                                           **{_signature_scheme(ep.signature_header): {
                                               "type": "apiKey", "in": "header", "name": ep.signature_header,
                                               "description": "the sender's signature over the raw body"}
                                              for ep in public if ep.signature_header}}},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc

