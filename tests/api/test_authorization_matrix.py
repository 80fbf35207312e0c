"""The authorization matrix, generated from the route declarations (``routing.ENDPOINTS``): every
route x {anonymous, stranger, listener, speaker, co-host, host, banned, admin} -> the expected
status, asserted. 74 routes x 8 roles = 592 cases when written (``test_the_matrix_covers_every_route``
pins the count at at least that; two routes landed meanwhile and were covered untouched).

The expectation is derived from each endpoint's declared policy (``Endpoint.caller``, a
``routing.Caller``), never listed per route here, so a route added later is covered without
touching this file:

- a role the policy lets in gets a 2xx or an error the route declares other than 401/403 (the
  world below makes most of them succeed; a 409/404 is the state's answer, not the policy's);
- a role it keeps out gets 401 ``unauthenticated`` without a token (or without the worker's secret;
  without a webhook's or a signed link's signature: a declared 400/401/403, never a 2xx), and 403
  (``forbidden`` or ``banned``) with one; and a refused call changes nothing in the table.

One world is built per module (the Space and its people, on moto); every case restores the table
to it, so each role meets the same Space.

The roles, in one live Space hosted by ``host``: ``stranger`` signed in, never joined; ``listener``
joined; ``speaker`` on stage; ``cohost``; ``host``; ``banned`` joined, then removed by the host;
``admin`` a token with the admin scope and no relation to the Space. ``{user_id}`` in a path is
``target``, a joined listener with a raised hand who wrote the Space's one message
(``{message_id}``)."""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import BaseModel

import app  # registers every endpoint; the world calls app.app
from chalicelib.api.routing import ENDPOINTS, Caller, Endpoint
from tests.conftest import Api
from tests.helpers import TableSnapshot, restore_table, table_changes, table_snapshot

ROLES = ("anonymous", "stranger", "listener", "speaker", "cohost", "host", "banned", "admin")
SPACE_ROLES = {"listener", "speaker", "cohost", "host"}  # joined and not removed
LETS_IN: dict[Caller, frozenset[str]] = {
    Caller.anyone: frozenset(ROLES),
    Caller.signature: frozenset(),
    Caller.worker: frozenset(),
    Caller.signed_in: frozenset(ROLES) - {"anonymous"},
    Caller.admin: frozenset({"admin"}),
    Caller.audience: frozenset(ROLES) - {"anonymous", "banned"},
    Caller.member: frozenset(SPACE_ROLES),
    Caller.listeners: frozenset({"stranger", "listener", "admin"}),
    Caller.stage: frozenset({"speaker", "cohost", "host"}),
    Caller.moderators: frozenset({"cohost", "host"}),
    Caller.host: frozenset({"host"}),
}
TARGET = "target"
CASES = [(ep, role) for ep in ENDPOINTS for role in ROLES]


def allowed(ep: Endpoint, role: str) -> bool:
    return role in LETS_IN[ep.caller]


def expected(ep: Endpoint, role: str) -> str:
    """The matrix cell, as a short word (the test ids show it)."""
    if allowed(ep, role):
        return "allowed"
    if role == "anonymous" or ep.caller in (Caller.worker, Caller.signature):
        return "unauthenticated"
    return "forbidden"


# -- the world -------------------------------------------------------------------------------
class World:
    def __init__(self, api: Api, space_id: str, message_id: str) -> None:
        self.api = api
        self.space_id = space_id
        self.message_id = message_id
        self.table: TableSnapshot = {}
        self.rooms: dict[str, Any] = {}

    def path(self, ep: Endpoint) -> str:
        values = {"space_id": self.space_id, "message_id": self.message_id, "user_id": TARGET}
        return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), f"no_such_{m.group(1)}"), ep.path)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.adapters.livekit import LiveKitMedia
    from infra.local.scheduler_runner import provision
    from infra.local.stage import make_moto_dynamodb_atomic
    from tests.fixtures_livekit import FakeLiveKit

    make_moto_dynamodb_atomic()
    fake = FakeLiveKit()
    with mock_aws(), pytest.MonkeyPatch.context() as mp:
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import get_container, reset_container

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), os.environ["AIRWAVES_TABLE_NAME"])
        provision()
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=os.environ["AIRWAVES_MEDIA_BUCKET"])
        mp.setattr(LiveKitMedia, "from_settings", classmethod(lambda cls, settings, secrets: fake))
        reset_container()
        with Client(app.app) as client:
            api = Api(client)
            for user in ("host", "stranger", "listener", "speaker", "cohost", "banned", "admin", TARGET):
                api.make_user(user, 1000)
            created = api.call("POST", "/v1/spaces", as_user="host", body={"title": "The matrix"})
            assert created.status_code == 201, created.body
            space_id = created.json["id"]
            sp = f"/v1/spaces/{space_id}"
            for user in ("listener", "speaker", "cohost", "banned", TARGET):
                assert api.call("POST", f"{sp}/join", as_user=user).status_code == 200
            steps = [("PUT", f"{sp}/speakers/speaker", "host", None),
                     ("PUT", f"{sp}/cohosts/cohost", "host", None),
                     ("POST", f"{sp}/participants/banned/remove", "host", None),
                     ("POST", f"{sp}/speak-requests", TARGET, None)]
            for method, path, user, body in steps:
                res = api.call(method, path, as_user=user, body=body)
                assert res.status_code in (200, 201), (path, res.body)
            message = api.call("POST", f"{sp}/messages", as_user=TARGET, body={"text": "hello, room"})
            assert message.status_code == 201, message.body
            for user in ("stranger", "listener", "speaker", "cohost", "host", "banned"):
                api.token(user)
            api.token("admin", admin=True)
            w = World(api, space_id, message.json["id"])
            assert get_container().media is fake
            w.table = table_snapshot()
            w.rooms = copy.deepcopy(fake.rooms)
            w.fake = fake  # type: ignore[attr-defined]
            yield w
        reset_container()


def example_body(model: type[BaseModel]) -> dict[str, Any]:
    """A valid body: each required field, and each optional one whose schema gives an example."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    body: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if "examples" in prop:
            body[name] = prop["examples"][0]
        elif name in required:
            body[name] = _value(name, prop)
    return body


def _value(name: str, prop: dict[str, Any]) -> Any:
    if "anyOf" in prop:
        return _value(name, next(p for p in prop["anyOf"] if p.get("type") != "null"))
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "string":
        return TARGET if "pattern" in prop else f"a {name.replace('_', ' ')}"
    if kind in ("integer", "number"):
        return prop.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return [_value(name, prop["items"])] if prop.get("minItems") else []
    raise AssertionError(f"declare an example for {name}: {prop}")


def call(w: World, ep: Endpoint, role: str):
    body = example_body(ep.body) if ep.body is not None else None
    path = w.path(ep)
    if ep.query is not None and (query := example_body(ep.query)):
        path += "?" + urlencode(query, doseq=True)
    if role == "anonymous":
        return w.api.call(ep.method, path, body=body)
    return w.api.call(ep.method, path, as_user=role, admin=role == "admin", body=body)


@pytest.mark.parametrize(("ep", "role"), CASES,
                         ids=[f"{ep.method} {ep.path} {role}={expected(ep, role)}" for ep, role in CASES])
def test_matrix(world, ep, role):
    restore_table(world.table)
    world.fake.rooms = copy.deepcopy(world.rooms)
    res = call(world, ep, role)
    cell = expected(ep, role)
    if cell == "allowed":
        declared = set(ep.errors) - {401, 403}
        assert 200 <= res.status_code < 300 or res.status_code in declared, res.body
        return
    error = (res.json or {}).get("error", {})
    if cell == "unauthenticated":
        if ep.caller is Caller.signature:
            assert res.status_code in set(ep.errors) & {400, 401, 403}, res.body
        else:
            assert res.status_code == 401 and error.get("code") == "unauthenticated", res.body
    else:
        assert res.status_code == 403 and error.get("code") in ("forbidden", "banned"), res.body
    assert error.get("message"), res.body
    assert table_changes(world.table) == [], "a refused call wrote to the table"


def test_the_matrix_covers_every_route():
    """Every declared route is in the matrix, each policy lets someone in but the webhooks' and
    worker's (whose callers carry their own secret), and the size is what the docstring says."""
    assert len(CASES) == len(ENDPOINTS) * len(ROLES) >= 592
    assert all(LETS_IN[ep.caller] or ep.caller in (Caller.signature, Caller.worker) for ep in ENDPOINTS)
    assert set(LETS_IN) == set(Caller)
