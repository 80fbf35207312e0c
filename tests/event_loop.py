"""One asyncio event loop for a whole test run, shared by the main suite and the media worker's
(``tests/media`` runs in the worker's venv, where nothing of chalicelib imports)."""
from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(scope="session")
def event_loop_for_session():
    """One event loop for the whole run: LiveKit's SDK binds rooms and its FFI callbacks to a
    loop, so every integration test drives the same one (``aio.run(coro)``)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


class Aio:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coro):
        return self.loop.run_until_complete(coro)


@pytest.fixture
def aio(event_loop_for_session) -> Aio:
    return Aio(event_loop_for_session)
