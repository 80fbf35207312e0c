"""An in-progress claim holds a short lease, never past the invocation's deadline; after it a
retry runs the work again, while a completed answer is still replayed for the full TTL."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import AlreadyExists
from chalicelib.services import idempotency
from chalicelib.services.idempotency import ClaimLease, Idempotency
from tests.fakes import InMemoryIdempotencyStore


def test_the_lease_is_the_setting_bounded_by_the_time_the_invocation_has_left():
    assert ClaimLease(60).until(1_000) == 1_060
    assert ClaimLease(60, lambda: 12_300).until(1_000) == 1_013  # Lambda stops the work in 12.3 s
    assert ClaimLease(5, lambda: 900_000).until(1_000) == 1_005
    assert ClaimLease(60, lambda: 0).until(1_000) == 1_001


def test_a_claim_stranded_by_a_dead_process_is_taken_over_after_its_lease(monkeypatch):
    clock = [1_000.0]
    monkeypatch.setattr(idempotency.time, "time", lambda: clock[0])
    store = InMemoryIdempotencyStore()
    flow = Idempotency(store, ttl_seconds=86_400, lease=ClaimLease(2))
    # a process claimed the key and died (no release): the in-progress record stays behind
    store.claim("u#k", "p", now=1_000, lease_until=ClaimLease(2).until(1_000), expires_at=1_000 + 86_400)
    with pytest.raises(AlreadyExists, match="in progress"):
        flow.run("u#k", "p", lambda: (201, "{}"))
    clock[0] = 1_003.0
    assert flow.run("u#k", "p", lambda: (201, '{"id": 1}')) == (201, '{"id": 1}', False)
    clock[0] = 50_000.0
    assert flow.run("u#k", "p", lambda: (201, '{"id": 2}')) == (201, '{"id": 1}', True)  # replayed, not re-run
