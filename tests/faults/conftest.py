"""The fault suite's real processes (``tests/fixtures_api_process.py``): DynamoDB (moto's server)
in a process of its own that outlives the API, and the API that a test may kill and start again.

Each case states the fault injected, what the caller sees, and what is stored afterwards.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures_api_process import ApiProcess, api_environment


@pytest.fixture(scope="module")
def api_process(moto_process, stripe_mock, livekit_server, tmp_path_factory) -> Iterator[ApiProcess]:
    """The API against moto's server, stripe-mock and livekit-server, with a 2-second claim lease."""
    env = api_environment(moto_process, stripe_mock, livekit_server, "airwaves-faults",
                          AIRWAVES_CLAIM_LEASE_SECONDS="2")
    process = ApiProcess(tmp_path_factory.mktemp("api"), env)
    process.start()
    yield process
    process.stop()
