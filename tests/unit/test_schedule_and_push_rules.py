"""Pure rules: a Space's schedules, push token validation and the feed order."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.devices import clean_token, device_id
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.feed import feed_key, is_feed_key, on_stage, space_id_of
from chalicelib.domain.schedules import (
    ScheduledInvocation,
    ScheduleKind,
    SchedulePolicy,
    fire_time,
    plan,
    schedule_name,
)
from chalicelib.domain.spaces import Space, SpaceState

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
POLICY = SchedulePolicy(reminder_lead=timedelta(minutes=30), no_show_after=timedelta(minutes=60))


def space(**changes) -> Space:
    data = {"id": "sp_1", "host_id": "h", "title": "T", "state": SpaceState.scheduled,
                "scheduled_start": NOW + timedelta(hours=2), "created_at": NOW, "updated_at": NOW}
    data.update(changes)
    return Space(**data)


def test_a_scheduled_space_gets_reminder_start_and_no_show():
    planned = {p.kind: p for p in plan(space(), POLICY, NOW)}
    start = NOW + timedelta(hours=2)
    assert planned[ScheduleKind.reminder].at == start - timedelta(minutes=30)
    assert planned[ScheduleKind.start].at == start
    assert planned[ScheduleKind.no_show].at == start + timedelta(minutes=60)
    assert planned[ScheduleKind.start].name == "sp_1.start"
    assert planned[ScheduleKind.no_show].invocation == ScheduledInvocation(
        kind=ScheduleKind.no_show, space_id="sp_1", scheduled_start=start)


def test_no_host_reminder_when_its_moment_has_passed():
    kinds = [p.kind for p in plan(space(scheduled_start=NOW + timedelta(minutes=10)), POLICY, NOW)]
    assert kinds == [ScheduleKind.start, ScheduleKind.no_show]


@pytest.mark.parametrize("state", [SpaceState.live, SpaceState.ended, SpaceState.canceled])
def test_only_scheduled_spaces_have_schedules(state):
    assert plan(space(state=state), POLICY, NOW) == []


def test_the_no_show_delay_is_a_policy():
    longer = SchedulePolicy(no_show_after=timedelta(minutes=15))
    at = {p.kind: p.at for p in plan(space(), longer, NOW)}[ScheduleKind.no_show]
    assert at == NOW + timedelta(hours=2, minutes=15)


def test_schedules_never_fire_early_and_names_are_valid():
    assert fire_time(NOW + timedelta(microseconds=1)) == NOW + timedelta(seconds=1)
    assert fire_time(NOW) == NOW
    assert schedule_name("sp_" + "a" * 20, ScheduleKind.no_show) == "sp_" + "a" * 20 + ".no_show"


def test_an_invocation_matches_only_the_plan_it_was_made_for():
    inv = ScheduledInvocation(kind=ScheduleKind.start, space_id="sp_1", scheduled_start=NOW + timedelta(hours=2))
    assert inv.matches(space())
    assert not inv.matches(space(scheduled_start=NOW + timedelta(hours=3)))


APNS = "a1" * 32
FCM = "fcm-token_" + "x" * 80 + ":APA91b"


@pytest.mark.parametrize("platform, token, expected", [
    ("apns", APNS, APNS),
    ("apns", "<" + " ".join(["A1" * 4] * 8) + ">", APNS),
    ("fcm", FCM, FCM),
])
def test_good_tokens_are_canonical(platform, token, expected):
    assert clean_token(platform, token) == expected


@pytest.mark.parametrize("platform, token, field", [
    ("apns", "xyz", "token"),
    ("apns", "a1" * 31, "token"),
    ("apns", "a1b", "token"),
    ("fcm", "short", "token"),
    ("fcm", "x" * 70 + " y", "token"),
    ("webpush", APNS, "platform"),
])
def test_bad_tokens_name_the_field(platform, token, field):
    with pytest.raises(ValidationFailed) as err:
        clean_token(platform, token)
    assert err.value.details[0]["field"] == field


def test_device_ids_are_stable_per_platform_and_token():
    assert device_id("apns", APNS) == device_id("apns", APNS) != device_id("fcm", APNS)


def test_feed_keys_sort_newest_first_by_actual_start_then_id():
    older = space(id="sp_b", state=SpaceState.live, started_at=NOW)
    newer = space(id="sp_a", state=SpaceState.live, started_at=NOW + timedelta(microseconds=1))
    same_time = space(id="sp_c", state=SpaceState.live, started_at=NOW)
    keys = sorted([feed_key(older), feed_key(newer), feed_key(same_time)], reverse=True)
    assert [space_id_of(k) for k in keys] == ["sp_a", "sp_c", "sp_b"]
    assert all(is_feed_key(k) for k in keys) and not is_feed_key("LIVE#x") and not is_feed_key(5)


def test_on_stage_is_host_cohosts_and_speakers():
    s = space(cohost_ids=["c"], speaker_ids=["s1", "s2"])
    assert on_stage(s) == {"h", "c", "s1", "s2"}
