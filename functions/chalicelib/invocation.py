"""The current Lambda invocation, as far as claims need it: how much time it has left.

The API edge binds Chalice's ``lambda_context`` per request (``api/routing.py``); services read
only ``remaining_ms()`` through the lease they are given, never the context itself.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_context: ContextVar[Any] = ContextVar("airwaves_lambda_context", default=None)


def bind(context: Any) -> None:
    """Remember this invocation's context (None outside Lambda and in in-process tests)."""
    _context.set(context)


def remaining_ms() -> int | None:
    """Milliseconds before Lambda stops this invocation, or None when there is no deadline."""
    context = _context.get()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    try:
        return int(remaining())
    except (TypeError, ValueError):
        return None
