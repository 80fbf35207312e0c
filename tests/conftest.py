"""Fixtures shared by every tier. API tests run the real Chalice app on moto's DynamoDB."""
from __future__ import annotations

import json
import os

import pytest

from infra.local.stage import apply_stage_environment, make_moto_dynamodb_atomic

apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-test")

# Fixture modules of the real servers (each concern adds its own).
# tests/media run in the media worker's own venv (`make test-media`), not this one.
collect_ignore = ["media"]

pytest_plugins: list[str] = ["tests.fixtures_livekit", "tests.fixtures_cluster", "tests.fixtures_stripe",
                             "tests.fixtures_notifications", "tests.fixtures_media", "tests.fixtures_api_process"]


@pytest.fixture
def aws():
    """A fresh moto account with the table created and a fresh app container."""
    from moto import mock_aws

    make_moto_dynamodb_atomic()
    with mock_aws():
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import reset_container

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), os.environ["AIRWAVES_TABLE_NAME"])
        reset_container()
        yield
        reset_container()


class Api:
    """A small client over ``chalice.test.Client`` that speaks JSON and carries tokens."""

    def __init__(self, client) -> None:
        self.client = client
        self._tokens: dict[tuple[str, bool], str] = {}

    def token(self, user_id: str, admin: bool = False) -> str:
        key = (user_id, admin)
        if key not in self._tokens:
            res = self.client.http.post("/v1/dev/tokens", headers={"Content-Type": "application/json"},
                                        body=json.dumps({"user_id": user_id, "admin": admin}))
            assert res.status_code == 201, res.body
            self._tokens[key] = json.loads(res.body)["token"]
        return self._tokens[key]

    def call(self, method: str, path: str, *, as_user: str | None = None, body=None, raw: bytes | None = None,
             headers: dict[str, str] | None = None, admin: bool = False):
        hdrs = {"Content-Type": "application/json"}
        if as_user is not None:
            hdrs["Authorization"] = f"Bearer {self.token(as_user, admin)}"
        hdrs.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        res = getattr(self.client.http, method.lower())(path, headers=hdrs, body=payload)
        is_json = res.headers.get("Content-Type", "").startswith("application/json")
        res.json = json.loads(res.body) if res.body and is_json else None
        return res

    def make_user(self, user_id: str, followers: int = 1000, **fields):
        body = {"handle": fields.pop("handle", user_id.replace("-", "_")[:30]),
                "display_name": fields.pop("display_name", user_id), "follower_count": followers, **fields}
        res = self.call("PUT", f"/v1/admin/users/{user_id}", as_user="admin", admin=True, body=body)
        assert res.status_code in (200, 201), res.body
        return res.json


@pytest.fixture
def space_id(api):
    """A live Space hosted by ``host`` (1,000 followers), opened through the API."""
    api.make_user("host", 1000)
    res = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Live"})
    assert res.status_code == 201, res.body
    return res.json["id"]


@pytest.fixture
def api(aws):
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        yield Api(client)


REFUSALS = frozenset({400, 401, 403, 404, 409, 410, 412, 413, 415, 422})


@pytest.fixture
def refusals_change_nothing(api, monkeypatch):
    """Every call this test makes through ``api`` that is refused (a 4xx other than 429, whose
    rate-limit windows count attempts by design) must leave the table as it found it: a module
    that uses this fixture proves it for all its refusals without a line per test. Each answer
    keeps the snapshot taken before it (``table_before``) for ``assert_refused``."""
    from tests.helpers import assert_unchanged, table_snapshot

    call = api.call

    def watched(method: str, path: str, **kw):
        before = table_snapshot()
        res = call(method, path, **kw)
        res.table_before = before
        if res.status_code in REFUSALS:
            assert_unchanged(before, f"{method} {path} answering {res.status_code} {res.body[:200]!r}")
        return res

    monkeypatch.setattr(api, "call", watched)
    return api
