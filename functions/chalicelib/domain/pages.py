"""Pages of a list: where a page starts, how long it may be, and where the next one starts.

A position is opaque to everyone but the repository that issued it (DynamoDB's last evaluated
key, or a feed key); the API signs it into a cursor (``api/paging.py``), so clients never read
or forge one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import JsonValue

T = TypeVar("T")

Position = dict[str, JsonValue] | None
JsonObject = dict[str, JsonValue]


@dataclass(frozen=True)
class PageRequest:
    start: Position = None
    limit: int = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next: Position = None  # None: this was the last page
