"""The ``Idempotency-Key`` flow: claim the key, run once, store the answer, replay it on retry.

Storage is a port (``IdempotencyStore``); this module owns the flow, in the manner of
Powertools' idempotency base class. A failed request releases its key so the client may retry
after fixing it; a key reused for a different request is refused.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from chalicelib.domain.errors import AlreadyExists
from chalicelib.ports import IdempotencyStore


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class Idempotency:
    def __init__(self, store: IdempotencyStore, *, ttl_seconds: int) -> None:
        self.store = store
        self.ttl = ttl_seconds

    def run(self, scope: str, print_: str, handler: Callable[[], tuple[int, str]]) -> tuple[int, str, bool]:
        """Run ``handler`` (returning status and JSON body) at most once for ``scope``.

        Returns (status, body, replayed)."""
        now = int(time.time())
        existing = self.store.claim(scope, print_, now=now, expires_at=now + self.ttl)
        if existing is not None:
            if existing.fingerprint != print_:
                raise AlreadyExists(
                    "this Idempotency-Key was already used for a different request",
                    details={"header": "Idempotency-Key"},
                )
            if existing.status != "completed" or existing.status_code is None:
                raise AlreadyExists(
                    "a request with this Idempotency-Key is still in progress; retry shortly",
                    details={"header": "Idempotency-Key"},
                )
            return existing.status_code, existing.body or "", True
        try:
            status, body = handler()
        except BaseException:
            self.store.release(scope)
            raise
        if 200 <= status < 300:
            self.store.complete(scope, status_code=status, body=body, expires_at=now + self.ttl)
        else:
            self.store.release(scope)
        return status, body, False
