"""Structured logs: every line one JSON object (Powertools' Logger) carrying the correlation id of
the request or event being handled.

The Logger is built on first use, not at import, so the API's cold import does not pay for
Powertools. It is the ``airwaves`` logger (Chalice's ``app.log``, whose crash reports then come out
as JSON too) and formats the ``chalicelib.*`` loggers the services log to with the same handler, so
a service keeps using plain ``logging`` and its lines still carry the correlation id. The id lives
in a context variable (Powertools' thread-safe keys): a thread that was not given one has none.

Nothing here logs a header, a body, a query string or a token: callers pass the fields to log.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from chalicelib.domain.telemetry import SERVICE

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

CORRELATION_KEY = "correlation_id"
SERVICE_LOGGERS = ("chalicelib",)  # plain ``logging`` loggers that share the JSON handler

_logger: Logger | None = None


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time (Lambda's, or a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def logger() -> Logger:
    """The app's Logger, built once per process."""
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger

        handler = logging.StreamHandler(_CurrentStdout())
        _logger = Logger(service=SERVICE, logger_handler=handler, utc=True)
        for name in SERVICE_LOGGERS:
            plain = logging.getLogger(name)
            if handler not in plain.handlers:
                plain.addHandler(handler)
            plain.setLevel(_logger.log_level)
            plain.propagate = False  # Lambda's root handler would print each line a second time
    return _logger


@contextmanager
def correlated(correlation_id: str) -> Iterator[None]:
    """Every line logged inside carries ``correlation_id``; the previous one is back after."""
    log = logger()
    previous = log.thread_safe_get_current_keys().get(CORRELATION_KEY)
    log.thread_safe_append_keys(**{CORRELATION_KEY: correlation_id})
    try:
        yield
    finally:
        if previous is None:
            log.thread_safe_remove_keys([CORRELATION_KEY])
        else:
            log.thread_safe_append_keys(**{CORRELATION_KEY: previous})


def current_correlation_id() -> str | None:
    value = logger().thread_safe_get_current_keys().get(CORRELATION_KEY)
    return str(value) if value is not None else None


def outcome(message: str, fields: dict[str, object], *, failed: bool = False) -> None:
    """The one line of a request or an event: an error line when it failed, else info."""
    if failed:
        logger().error(message, extra=fields)
    else:
        logger().info(message, extra=fields)
