"""Opaque, tamper-proof pagination cursors.

A cursor is the storage position (DynamoDB's LastEvaluatedKey) plus the list it belongs to,
signed with HMAC-SHA256. Clients cannot read or forge positions, and a cursor from one list is
rejected by another.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .domain.errors import field_error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, scope: str, payload: bytes) -> str:
    return _b64(hmac.new(secret.encode(), scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:18])


def encode_cursor(position: dict[str, Any] | None, *, scope: str, secret: str) -> str | None:
    if not position:
        return None
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_mac(secret, scope, payload)}"


def decode_cursor(cursor: str | None, *, scope: str, secret: str) -> dict[str, Any] | None:
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


class PageCursors:
    """The cursors of one list (``scope``): where a page starts, and the cursor for the next."""

    def __init__(self, scope: str, secret: str) -> None:
        self.scope = scope
        self._secret = secret

    def start(self, cursor: str | None) -> dict[str, Any] | None:
        return decode_cursor(cursor, scope=self.scope, secret=self._secret)

    def next(self, position: dict[str, Any] | None) -> str | None:
        return encode_cursor(position, scope=self.scope, secret=self._secret)
