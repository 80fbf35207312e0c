"""Pages of a list at the API edge: a signed cursor in, a page request to the service, a signed
cursor out.

A cursor is the storage position (DynamoDB's LastEvaluatedKey, a feed key) plus the list it
belongs to, signed with HMAC-SHA256. Clients cannot read or forge positions, and a cursor from one
list (``scope``) is refused by another, with a 400 naming ``cursor``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TypeVar

from chalicelib.domain.errors import field_error
from chalicelib.domain.pages import Page, PageRequest, Position
from chalicelib.secrets import get_secret
from chalicelib.settings import get_settings

_LOCAL_CURSOR_KEY = "airwaves-local-cursor-key"
T = TypeVar("T")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, scope: str, payload: bytes) -> str:
    return _b64(hmac.new(secret.encode(), scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:18])


def encode_cursor(position: Position, *, scope: str, secret: str) -> str | None:
    if not position:
        return None
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_mac(secret, scope, payload)}"


def decode_cursor(cursor: str | None, *, scope: str, secret: str) -> Position:
    if not cursor:
        return None
    try:
        body, tag = cursor.split(".", 1)
        payload = _unb64(body)
        if not hmac.compare_digest(tag, _mac(secret, scope, payload)):
            raise ValueError("bad signature")
        position = json.loads(payload)
        if not isinstance(position, dict):
            raise ValueError("not an object")
        return position
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise field_error("cursor", "is not a cursor this list issued") from exc


def cursor_secret() -> str:
    """The key cursors are signed with (a secret in deployed stages; a fixed key locally)."""
    secret = get_secret("cursor_secret")
    if secret:
        return secret
    if not get_settings().is_local:
        raise RuntimeError("cursor_secret is missing from the stage's secrets")
    return _LOCAL_CURSOR_KEY


@dataclass(frozen=True)
class ListPage:
    """One list's page as asked (``request``) and how to answer its next cursor."""

    scope: str
    request: PageRequest

    @classmethod
    def of(cls, scope: str, cursor: str | None, limit: int) -> ListPage:
        return cls(scope, PageRequest(decode_cursor(cursor, scope=scope, secret=cursor_secret()), limit))

    def next_cursor(self, page: Page[T]) -> str | None:
        return encode_cursor(page.next, scope=self.scope, secret=cursor_secret())
