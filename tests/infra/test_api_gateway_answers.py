"""The deployed API answers unknown paths and methods in the contract's error shape, like the local
server (``tests/contract/test_unknown_paths_and_methods.py``): API Gateway's MISSING_AUTHENTICATION_TOKEN
becomes a 404 ``not_found``, and every path sends the methods it does not declare to the app (405)."""
from __future__ import annotations

import json
import re

from chalicelib.api.errors import NOT_FOUND_PATH, error_body
from infra.app_template import ANY_METHOD
from tests.infra.templates import APP, load


def swagger() -> dict:
    return load(APP)["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def test_a_path_no_route_has_answers_404_not_found_in_the_error_shape():
    answer = swagger()["x-amazon-apigateway-gateway-responses"]["MISSING_AUTHENTICATION_TOKEN"]
    assert answer["statusCode"] == 404
    assert answer["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
    assert json.loads(answer["responseTemplates"]["application/json"]) == error_body(*NOT_FOUND_PATH)


def test_every_path_sends_its_undeclared_methods_to_the_api_handler():
    paths = swagger()["paths"]
    assert len(paths) > 30
    for path, methods in paths.items():
        assert ANY_METHOD in methods and len(methods) >= 2, path
        integration = methods[ANY_METHOD]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        assert re.search(r"\$\{APIHandler\.Arn\}", integration["uri"]["Fn::Sub"]), path
