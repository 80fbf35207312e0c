"""The authorization matrix's first columns, generated from the route declarations
(``routing.ENDPOINTS``): every route asked anonymously answers 401 in the contract's error shape
when it needs a token or a signature (and never 401 when it needs neither); every admin route asked by a signed-in
non-admin answers 403. A route added later is covered without touching this file."""
from __future__ import annotations

import re

import pytest

import app  # noqa: F401 - registers every endpoint
from chalicelib.api.routing import ENDPOINTS

ROUTES = [ep for ep in ENDPOINTS if not getattr(ep, "internal", False)]


def concrete(path: str, space_id: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: space_id if m.group(1) == "space_id" else "alice", path)


def ids(routes) -> list[str]:
    return [f"{ep.method} {ep.path}" for ep in routes]


@pytest.mark.parametrize("ep", ROUTES, ids=ids(ROUTES))
def test_anonymous(api, space_id, ep):
    res = api.call(ep.method, concrete(ep.path, space_id), raw=b"{}" if ep.body else None)
    if ep.auth:
        assert res.status_code == 401, res.body
        assert res.json["error"]["code"] == "unauthenticated" and res.json["error"]["message"]
    elif 401 in ep.errors:  # a webhook signed in its Authorization header: unsigned is 401 too
        assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated", res.body
    else:
        assert res.status_code != 401, res.body


ADMIN = [ep for ep in ROUTES if ep.admin]


@pytest.mark.parametrize("ep", ADMIN, ids=ids(ADMIN))
def test_signed_in_non_admin_on_admin_routes(api, space_id, ep):
    res = api.call(ep.method, concrete(ep.path, space_id), as_user="alice", raw=b"{}" if ep.body else None)
    assert res.status_code == 403 and res.json["error"]["code"] == "forbidden", res.body


def test_the_matrix_covers_every_route():
    assert len(ROUTES) > 40 and ADMIN
