"""What schemathesis found in the generated OpenAPI (``tests/faults``, NOTE_11): every path value
declares the pattern the router enforces, and every operation that can answer 400 (path values,
Idempotency-Key, body, query) documents it in the error shape."""
from __future__ import annotations

import re

from chalicelib.api.openapi import build_openapi
from chalicelib.api.routing import PATH_VALUE_PATTERN


def operations():
    import app  # noqa: F401 - registers every endpoint

    paths = build_openapi()["paths"]
    assert len(paths) > 30
    for path, methods in paths.items():
        for method, op in methods.items():
            yield path, method, op


def test_every_path_value_declares_the_routers_pattern():
    for path, method, op in operations():
        for param in op.get("parameters", []):
            if param["in"] == "path":
                assert param["schema"].get("pattern") == PATH_VALUE_PATTERN, (method, path, param)
                assert re.fullmatch(param["schema"]["pattern"][1:-1], "sp_abc123")


def test_every_operation_that_checks_input_documents_400_in_the_error_shape():
    for path, method, op in operations():
        inputs = [p for p in op.get("parameters", []) if p["in"] in ("path", "query", "header")] or op.get("requestBody")
        own_page = "text/html" in op["responses"].get("404", {}).get("content", {})  # /s/{id}: bad id → 404 page
        if inputs and not own_page:
            answer = op["responses"].get("400")
            assert answer is not None, (method, path)
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


def test_the_idempotency_key_is_one_to_255_characters():
    keys = [p for _, _, op in operations() for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
    assert keys and all(p["schema"] == {"type": "string", "minLength": 1, "maxLength": 255} for p in keys)


def test_creates_link_to_the_operations_that_take_their_id():
    """The stateful fuzz run (``tests/contract``) follows these links: a Space's id feeds its routes."""
    import app  # noqa: F401 - registers every endpoint

    paths = build_openapi()["paths"]
    space_links = paths["/v1/spaces"]["post"]["responses"]["201"]["links"]
    assert space_links["get_v1_spaces_space_id"]["parameters"] == {"space_id": "$response.body#/id"}
    assert "get_v1_spaces_space_id_replay" not in space_links  # a new Space has no replay: no link, no false 404
    message = paths["/v1/spaces/{space_id}/messages"]["post"]["responses"]["201"]["links"]
    assert message["delete_v1_spaces_space_id_messages_message_id"]["parameters"] == {
        "space_id": "$request.path.space_id", "message_id": "$response.body#/id"}
    linked = {link["operationId"] for ms in paths.values() for op in ms.values()
              for answer in op["responses"].values() for link in answer.get("links", {}).values()}
    operation_ids = {op["operationId"] for ms in paths.values() for op in ms.values()}
    assert len(linked) > 30 and linked <= operation_ids
