"""The API's local HTTP server: Chalice's dev server, with its gateway's own answers in the contract's shape.

Chalice's local gateway answers an unknown path with API Gateway's 403 (a message about AWS
signature parameters when a Bearer token is sent) and its HTTP handler answers a method it has no
``do_`` for with 501. Here an unknown path answers 404 ``not_found`` and every method reaches the
app, which answers a method a path does not serve with 405 ``method_not_allowed``
(``api/errors.py``). The deployed stack gets the same answers from API Gateway (``infra/app_template.py``).
``make up`` (``stack.start_api``), the fault suite's API process and the contract tests all serve through here.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
)

from chalicelib.api.errors import JSON_HEADERS, NOT_FOUND_PATH, error_body

ROOT = Path(__file__).resolve().parents[2]


class PathNotFound(LocalGatewayException):
    CODE = 404

    def __init__(self) -> None:
        super().__init__(dict(JSON_HEADERS), json.dumps(error_body(*NOT_FOUND_PATH)).encode())


class ContractGateway(LocalGateway):
    """API Gateway as the deployed stack configures it: no route for a path is a 404 in the error shape,
    and path values reach the app percent-decoded."""

    def _generate_lambda_event(self, method: str, path: str, headers: dict[str, Any], body: bytes | None) -> Any:
        try:
            event = super()._generate_lambda_event(method, path, headers, body)
        except ValueError:  # the route matcher's "no matching route"
            raise PathNotFound() from None
        # API Gateway hands the app percent-decoded path values (``/v1/users/a%40b`` is user ``a@b``)
        event["pathParameters"] = {k: unquote(v) for k, v in (event.get("pathParameters") or {}).items()}
        return event


class ContractRequestHandler(ChaliceRequestHandler):
    """Every HTTP method goes to the gateway (the app answers 405 for one a path does not serve)."""

    def __init__(self, request: Any, client_address: tuple[str, int], server: Any, app_object: Chalice,
                 config: Config) -> None:
        self.local_gateway = ContractGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):  # BaseHTTPRequestHandler looks up ``do_<METHOD>``; 501 when missing
            return self._generic_handle
        raise AttributeError(name)


def create_api_server(host: str, port: int, *, stage: str = "local") -> LocalDevServer:
    """The Chalice app of ``functions/`` served on ``host:port`` (call ``serve_forever`` to run it)."""
    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(ROOT / "functions"))
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = factory.load_chalice_app()
    # what chalice.local.create_local_server does to the app, which takes no handler class
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=ContractRequestHandler)
