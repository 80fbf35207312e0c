"""Unknown paths answer 404 ``not_found`` and methods a path does not serve answer 405
``method_not_allowed``, in the contract's error shape, over real HTTP to the local server; with or
without a Bearer token (Chalice's own local gateway answered 403 about AWS signatures, and 501)."""
from __future__ import annotations

import pytest

from tests.faults.http_api import HttpApi


def error_code(res) -> str:
    assert res.headers["Content-Type"].startswith("application/json"), res.headers
    assert set(res.json) == {"error"} and set(res.json["error"]) == {"code", "message", "details"}, res.json
    return res.json["error"]["code"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "TRACE", "FROB"])
@pytest.mark.parametrize("path", ["/v1/nope", "/v1/spaces/sp_1/nope", "/v2/spaces", "/v1/spaces/a/b/c/d/e"])
@pytest.mark.parametrize("signed_in", [False, True])
def test_an_unknown_path_answers_404_not_found(contract_api: HttpApi, method, path, signed_in):
    res = contract_api.call(method, path, as_user="ann" if signed_in else None)
    assert res.status_code == 404, res.body
    assert error_code(res) == "not_found"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/v1/health", "GET, OPTIONS"),
    ("PUT", "/v1/spaces", "GET, OPTIONS, POST"),
    ("PATCH", "/v1/me/tickets", "GET, OPTIONS"),
    ("TRACE", "/v1/spaces/sp_1", "DELETE, GET, OPTIONS, PATCH"),
    ("FROB", "/v1/openapi.json", "GET, OPTIONS"),
])
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_method_the_path_does_not_serve_answers_405_with_allow(contract_api: HttpApi, method, path, allowed,
                                                                 signed_in):
    res = contract_api.call(method, path, as_user="ann" if signed_in else None)
    assert res.status_code == 405, res.body
    assert error_code(res) == "method_not_allowed"
    assert sorted(m.strip() for m in res.headers["Allow"].split(",")) == allowed.split(", ")


def test_a_served_route_still_answers(contract_api: HttpApi):
    assert contract_api.call("GET", "/v1/users/nobody", as_user="ann").status_code == 404
    assert contract_api.call("GET", "/v1/health").status_code == 200
