"""The ``Idempotency-Key`` flow: claim the key, run once, store the answer, replay it on retry.

Storage is a port (``IdempotencyStore``); this module owns the flow, in the manner of
Powertools' idempotency utility. A failed request releases its key so the client may retry
after fixing it; a key reused for a different request is refused.

A claim cannot be stranded: while in progress it holds only a short lease (``ClaimLease``: the
configured ``claim_lease_seconds``, never past what is left of the Lambda invocation). When the
process dies between claim and completion (a timeout, a crash: no exception handler runs), the
lease runs out and the key's next retry runs the work again. Completion is recorded separately,
with the full TTL, and from then on the answer is replayed.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import AirwavesError, AlreadyExists
from chalicelib.faults import kill_point
from chalicelib.ports import IdempotencyStore

log = logging.getLogger(__name__)


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _no_deadline() -> int | None:
    return None


@dataclass(frozen=True)
class ClaimLease:
    """How long an in-progress claim holds before a retry may take it over.

    ``seconds`` is the configured lease; ``remaining_ms`` says how long this invocation has left
    (None: no deadline known). Past the invocation's deadline Lambda has stopped the work, so a
    longer lease could only strand the claim; as Powertools does, the lease ends there."""

    seconds: int
    remaining_ms: Callable[[], int | None] = _no_deadline

    def until(self, now: int) -> int:
        lease = max(1, self.seconds)
        left = self.remaining_ms()
        if left is not None:
            lease = min(lease, max(1, math.ceil(left / 1000)))
        return now + lease


class Idempotency:
    def __init__(self, store: IdempotencyStore, *, ttl_seconds: int, lease: ClaimLease | None = None) -> None:
        self.store = store
        self.ttl = ttl_seconds
        self.lease = lease or ClaimLease(60)

    def run(self, scope: str, print_: str, handler: Callable[[], tuple[int, str]]) -> tuple[int, str, bool]:
        """Run ``handler`` (returning status and JSON body) at most once for ``scope``.

        Returns (status, body, replayed)."""
        now = int(time.time())
        existing = self.store.claim(scope, print_, now=now, lease_until=self.lease.until(now), expires_at=now + self.ttl)
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
        kill_point("idempotency.claimed")
        try:
            status, body = handler()
        except BaseException:
            self.store.release(scope)
            raise
        kill_point("idempotency.ran")
        try:
            if 200 <= status < 300:
                self.store.complete(scope, status_code=status, body=body, expires_at=int(time.time()) + self.ttl)
            else:
                self.store.release(scope)
        except AirwavesError as exc:
            # The work is done: answering 503 now would invite a retry that does it again. The
            # claim's lease ends by itself; until then a retry with this key is told "in progress".
            log.warning("could not record the outcome of Idempotency-Key %s: %s", scope, exc.message)
        return status, body, False
