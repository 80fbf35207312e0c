"""The in-memory fakes are the ports (mypy checks these assignments; `make lint` runs it on this
file), so service tests on them exercise the same contract the adapters implement."""
from __future__ import annotations

from chalicelib.ports import (
    IdempotencyStore,
    MediaServer,
    MemberRepository,
    PaymentGateway,
    PayoutRepository,
    SpaceRepository,
    TicketGate,
    TicketRepository,
    WorkQueue,
)
from tests.fakes import (
    FakeMedia,
    FakePayments,
    Gate,
    InMemoryIdempotencyStore,
    InMemoryMembers,
    InMemoryPayouts,
    InMemoryQueue,
    InMemorySpaces,
    InMemoryTickets,
)


def test_each_fake_is_its_port() -> None:
    spaces: SpaceRepository = InMemorySpaces()
    members: MemberRepository = InMemoryMembers(InMemorySpaces())
    media: MediaServer = FakeMedia()
    gate: TicketGate = Gate()
    queue: WorkQueue = InMemoryQueue()
    store: IdempotencyStore = InMemoryIdempotencyStore()
    tickets: TicketRepository = InMemoryTickets(InMemorySpaces())
    payouts: PayoutRepository = InMemoryPayouts()
    payments: PaymentGateway = FakePayments()
    assert all(x is not None for x in (spaces, members, media, gate, queue, store, tickets, payouts, payments))
