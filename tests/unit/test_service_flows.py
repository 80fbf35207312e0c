"""Service flows on in-memory ports (tests/fakes.py): the orderings and undo paths that keep
storage and the media server in step, refund pages, idempotency, the lifecycle's order, and the
job table. Milliseconds each; the same flows run end to end on moto and the real servers."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import AlreadyExists, UpstreamUnavailable
from chalicelib.domain.fees import FeeSchedule, FeeTier
from chalicelib.domain.jobs import (
    Ended,
    FollowersPage,
    PromotePage,
    RefundsPage,
    RemindersPage,
    RoleChanged,
    SyncSchedules,
    UnfeedPage,
    WentLive,
)
from chalicelib.domain.pages import PageRequest
from chalicelib.domain.spaces import Space, SpaceState, Ticketing
from chalicelib.domain.tickets import PAID, PENDING
from chalicelib.services.background_jobs import BackgroundJobs
from chalicelib.services.idempotency import Idempotency
from chalicelib.services.joins import JoinService
from chalicelib.services.lifecycle import QuietParticipant, SpaceLifecycle
from chalicelib.services.moderation import ModerationService
from chalicelib.services.stage import StageService
from chalicelib.services.tickets import TicketService
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
    ticket,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def a_space(**changes: object) -> Space:
    fields: dict[str, object] = {"id": "sp_1", "host_id": "host", "title": "T", "state": SpaceState.live,
                                 "started_at": NOW, "created_at": NOW, "updated_at": NOW}
    fields.update(changes)
    return Space.model_validate(fields)


class Stage:
    """A live Space with a connected listener, wired the way the container wires it."""

    def __init__(self) -> None:
        self.spaces = InMemorySpaces(a_space())
        self.members = InMemoryMembers(self.spaces)
        self.media = FakeMedia(connected={("sp_1", "host"): "host", ("sp_1", "lisa"): "listener"})
        joins = JoinService(self.members, self.media, Gate())
        self.stage = StageService(self.spaces, self.members, self.media, SpaceLifecycle.quiet(), joins)
        self.moderation = ModerationService(self.members, self.media, SpaceLifecycle.quiet())

    def role(self, user: str) -> str:
        return self.spaces.require("sp_1").role_of(user)


# -- the stage: store-then-apply, apply-then-store, each undone on failure --------------------------------
def test_a_promotion_is_stored_first_then_applied_to_the_open_connection():
    given = Stage()
    change = given.stage.add_speaker("host", "sp_1", "lisa")
    assert change.live and given.role("lisa") == "speaker" and given.media.connected[("sp_1", "lisa")] == "speaker"
    assert given.members.moves == [("lisa", "listener", "speaker")]


def test_a_promotion_the_media_server_refuses_is_undone_in_storage():
    given = Stage()
    given.media.down = True
    with pytest.raises(UpstreamUnavailable):
        given.stage.add_speaker("host", "sp_1", "lisa")
    assert given.role("lisa") == "listener" and given.media.connected[("sp_1", "lisa")] == "listener"
    assert given.members.moves == [("lisa", "listener", "speaker"), ("lisa", "speaker", "listener")]


def test_a_demotion_closes_the_microphone_before_storing_and_stores_nothing_when_that_fails():
    given = Stage()
    given.stage.add_speaker("host", "sp_1", "lisa")
    given.media.down = True
    with pytest.raises(UpstreamUnavailable):
        given.stage.remove_speaker("host", "sp_1", "lisa")
    assert given.role("lisa") == "speaker"  # the media server still lets her speak, and so does storage
    assert given.members.moves == [("lisa", "listener", "speaker")]


def test_a_removal_the_media_server_cannot_carry_out_is_unbanned_and_keeps_the_role():
    given = Stage()
    given.stage.add_speaker("host", "sp_1", "lisa")
    given.media.down = True
    with pytest.raises(UpstreamUnavailable):
        given.moderation.remove("host", "sp_1", "lisa")
    member = given.members.get("sp_1", "lisa")
    assert member is not None and not member.banned and given.role("lisa") == "speaker"


# -- refunds of a canceled Space, a page at a time ---------------------------------------------------------
class Refunds:
    def __init__(self, paid: int, pending: int) -> None:
        space = a_space(state=SpaceState.canceled, ticket=Ticketing(price_cents=1000, currency="usd", quantity=50))
        self.spaces = InMemorySpaces(space)
        self.tickets = InMemoryTickets(self.spaces)
        self.payments = FakePayments()
        self.service = TicketService(self.spaces, self.tickets, InMemoryPayouts(), self.payments,
                                     FeeSchedule([FeeTier(None, 300)]), clock=lambda: NOW)
        for n in range(paid + pending):
            t = ticket(space, f"b{n}", status=PAID if n < paid else PENDING, now=NOW, number=n)
            self.tickets.items[t.id] = t

    def statuses(self) -> dict[str, str]:
        return {t.buyer_id: t.status for t in self.tickets.items.values()}

    def drain(self, limit: int) -> list[object]:
        positions: list[object] = []
        page = PageRequest(None, limit)
        while True:
            after = self.service.refund_page("sp_1", page)
            positions.append(after)
            if after is None:
                return positions
            page = PageRequest(after, limit)


def test_refund_pages_refund_each_paid_ticket_once_and_release_each_hold():
    given = Refunds(paid=5, pending=2)
    positions = given.drain(limit=3)
    assert len(positions) == 3 and positions[-1] is None
    assert set(given.statuses().values()) == {"refunded", "canceled"}
    assert sorted(given.payments.refund_calls) == sorted(t.id for t in given.tickets.items.values()
                                                         if t.status == "refunded")
    assert len(given.payments.canceled) == 2


def test_a_failed_refund_fails_the_page_and_its_retry_refunds_only_what_is_left():
    given = Refunds(paid=3, pending=0)
    stuck = sorted(given.tickets.items)[1]
    given.payments.failing.add(stuck)
    with pytest.raises(UpstreamUnavailable):
        given.service.refund_page("sp_1", PageRequest(None, 10))
    assert list(given.statuses().values()).count("refunded") == 2
    given.payments.failing.clear()
    assert given.service.refund_page("sp_1", PageRequest(None, 10)) is None
    assert set(given.statuses().values()) == {"refunded"}
    assert sorted(given.payments.refund_calls) == sorted([*given.tickets.items, stuck])  # the stuck one twice


def test_refund_pages_of_a_space_that_is_not_canceled_do_nothing():
    given = Refunds(paid=2, pending=0)
    given.spaces.items["sp_1"] = given.spaces.items["sp_1"].model_copy(update={"state": SpaceState.live})
    assert given.service.refund_page("sp_1", PageRequest(None, 10)) is None
    assert given.payments.refund_calls == [] and set(given.statuses().values()) == {"paid"}


# -- idempotency ---------------------------------------------------------------------------------------
def test_idempotency_runs_once_replays_and_refuses_another_body():
    store = InMemoryIdempotencyStore()
    flow = Idempotency(store, ttl_seconds=60)
    calls: list[int] = []

    def handler() -> tuple[int, str]:
        calls.append(1)
        return 201, '{"id": "x"}'

    assert flow.run("u#k", "print-a", handler) == (201, '{"id": "x"}', False)
    assert flow.run("u#k", "print-a", handler) == (201, '{"id": "x"}', True)
    with pytest.raises(AlreadyExists):
        flow.run("u#k", "print-b", handler)
    assert calls == [1]


def test_a_failed_request_releases_its_key_so_a_fixed_retry_runs():
    store = InMemoryIdempotencyStore()
    flow = Idempotency(store, ttl_seconds=60)

    def failing() -> tuple[int, str]:
        raise UpstreamUnavailable("down")

    with pytest.raises(UpstreamUnavailable):
        flow.run("u#k", "p", failing)
    assert store.records == {}
    assert flow.run("u#k", "p", lambda: (200, "{}")) == (200, "{}", False)


# -- the lifecycle's order ----------------------------------------------------------------------------
class Recorder(QuietParticipant):
    def __init__(self, name: str, log: list[str], *, refuse: bool = False) -> None:
        self.name, self.log, self.refuse = name, log, refuse

    def before_start(self, space: Space) -> None:
        self.log.append(f"{self.name}.before_start")
        if self.refuse:
            raise UpstreamUnavailable("no room")

    def after_start(self, space: Space) -> None:
        self.log.append(f"{self.name}.after_start")


def test_the_lifecycle_runs_media_feed_schedules_money_in_that_order():
    log: list[str] = []
    lifecycle = SpaceLifecycle(media_room=Recorder("media", log), feed=Recorder("feed", log),
                               schedules=Recorder("schedules", log), money=Recorder("money", log))
    lifecycle.before_start(a_space())
    lifecycle.after_start(a_space())
    assert log == ["media.before_start", "feed.before_start", "schedules.before_start", "money.before_start",
                   "media.after_start", "feed.after_start", "schedules.after_start", "money.after_start"]


def test_a_media_refusal_stops_the_lifecycle_before_anyone_else_hears_of_it():
    log: list[str] = []
    lifecycle = SpaceLifecycle(media_room=Recorder("media", log, refuse=True), feed=Recorder("feed", log),
                               schedules=Recorder("schedules", log), money=Recorder("money", log))
    with pytest.raises(UpstreamUnavailable):
        lifecycle.before_start(a_space())
    assert log == ["media.before_start"]


# -- the job table ------------------------------------------------------------------------------------
class Calls:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, name: str) -> None:
        self.seen.append(name)


class FeedStub:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def went_live(self, job: WentLive) -> None:
        self.calls("feed.went_live")

    def role_changed(self, job: RoleChanged) -> None:
        self.calls("feed.role_changed")

    def ended(self, job: Ended) -> None:
        self.calls("feed.ended")

    def followers_page(self, job: FollowersPage) -> None:
        self.calls("feed.followers_page")

    def unfeed_page(self, job: UnfeedPage) -> None:
        self.calls("feed.unfeed_page")

    def promote_page(self, job: PromotePage) -> None:
        self.calls("feed.promote_page")


class RemindersStub:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def reminders_page(self, job: RemindersPage) -> None:
        self.calls("reminders.reminders_page")


class TicketsStub:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def refund_page(self, space_id: str, page: PageRequest) -> dict[str, str] | None:
        self.calls(f"tickets.refund_page({page.start}, {page.limit})")
        return {"SK": "TICKET#next"} if page.start is None else None


class SchedulesStub:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def sync(self, space: Space) -> None:
        self.calls("schedules.sync")


@pytest.mark.parametrize(("job", "expected"), [
    (WentLive(space_id="sp_1"), "feed.went_live"),
    (RoleChanged(space_id="sp_1", user_id="u", role="speaker"), "feed.role_changed"),
    (Ended(space_id="sp_1"), "feed.ended"),
    (FollowersPage(space_id="sp_1", user_id="u", feed=True, notify=False), "feed.followers_page"),
    (UnfeedPage(space_id="sp_1", user_id="u"), "feed.unfeed_page"),
    (PromotePage(user_id="u"), "feed.promote_page"),
    (RemindersPage(space_id="sp_1", event="live"), "reminders.reminders_page"),
    (RefundsPage(space_id="sp_1"), "tickets.refund_page(None, 7)"),
    (SyncSchedules(space_id="sp_1"), "schedules.sync"),
])
def test_each_job_runs_its_one_use_case(job, expected):
    calls, queue = Calls(), InMemoryQueue()
    jobs = BackgroundJobs(FeedStub(calls), RemindersStub(calls), TicketsStub(calls),  # type: ignore[arg-type]
                          SchedulesStub(calls), InMemorySpaces(a_space()), queue, refund_page_size=7)
    jobs.run(job)
    assert calls.seen == [expected]
    if isinstance(job, RefundsPage):  # a page that stopped short queues the next one from its position
        assert queue.sent == [RefundsPage(space_id="sp_1", cursor={"SK": "TICKET#next"})]


def test_hold_expiry_counts_from_the_clock_the_service_is_given():
    given = Refunds(paid=0, pending=1)
    t = next(iter(given.tickets.items.values()))
    assert not t.hold_lapsed(NOW) and t.hold_lapsed(NOW + timedelta(minutes=15))
