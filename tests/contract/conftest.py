"""The contract suite's API: the local server (``infra/local/api_server.py``) in its own process,
over real HTTP, against moto's server, stripe-mock and livekit-server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.http_api import HttpApi
from tests.fixtures_api_process import ApiProcess, api_environment


@pytest.fixture(scope="module")
def contract_api(moto_process, stripe_mock, livekit_server, tmp_path_factory) -> Iterator[HttpApi]:
    process = ApiProcess(tmp_path_factory.mktemp("api"),
                         api_environment(moto_process, stripe_mock, livekit_server, "airwaves-contract"))
    process.start()
    yield HttpApi(process.url)
    process.stop()
