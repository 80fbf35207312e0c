"""Per-Space schedules on moto's EventBridge Scheduler: created, moved and deleted with the Space,
their targets, times and payloads, and what each scheduled handler does when it fires."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures_notifications import at_time
from tests.helpers import minutes_from_now, register_device

APNS_HOST = "ab" * 32
APNS_FAN = "cd" * 32


@pytest.fixture
def host(api):
    api.make_user("host", 1000, display_name="Hosty")
    return "host"


@pytest.fixture
def settings(aws):
    from chalicelib.settings import get_settings

    return get_settings()


def schedule_space(api, start: datetime, **body) -> str:
    res = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Planned", "scheduled_start": start.isoformat(),
                                                                 **body})
    assert res.status_code == 201, res.body
    return res.json["id"]


def test_a_scheduled_space_gets_three_schedules_with_targets_times_and_payloads(api, host, schedules, settings):
    start = minutes_from_now(120)
    sid = schedule_space(api, start)
    got = schedules.of(sid)
    assert set(got) == {"reminder", "start", "no_show"}
    assert at_time(got["reminder"]) == start - timedelta(minutes=30)
    assert at_time(got["start"]) == start
    assert at_time(got["no_show"]) == start + timedelta(minutes=60)
    targets = {kind: s["Target"]["Arn"] for kind, s in got.items()}
    assert targets == {"reminder": settings.space_reminder_function_arn, "start": settings.space_start_function_arn,
                       "no_show": settings.space_no_show_function_arn}
    for kind, schedule in got.items():
        assert schedule["GroupName"] == settings.schedule_group
        assert schedule["Target"]["RoleArn"] == settings.scheduler_role_arn
        assert schedule["Target"]["DeadLetterConfig"]["Arn"] == settings.schedule_dead_letter_arn
        assert schedule["ScheduleExpressionTimezone"] == "UTC"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["ActionAfterCompletion"] == "DELETE"
        payload = json.loads(schedule["Target"]["Input"])
        assert payload["kind"] == kind and payload["space_id"] == sid
        assert datetime.fromisoformat(payload["scheduled_start"].replace("Z", "+00:00")) == start


def test_a_space_opened_live_has_no_schedules(api, host, schedules):
    api.call("POST", "/v1/spaces", as_user="host", body={"title": "Now"})
    assert schedules.all() == {}


def test_moving_a_space_moves_its_schedules(api, host, schedules):
    sid = schedule_space(api, minutes_from_now(120))
    later = minutes_from_now(300)
    res = api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"scheduled_start": later.isoformat()})
    assert res.status_code == 200
    got = schedules.of(sid)
    assert {k: at_time(s) for k, s in got.items()} == {
        "reminder": later - timedelta(minutes=30), "start": later, "no_show": later + timedelta(minutes=60)}
    assert all(json.loads(s["Target"]["Input"])["scheduled_start"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
               for s in got.values())
    # Moved to within the reminder lead: the host reminder has no moment left, so it goes.
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"scheduled_start": minutes_from_now(10).isoformat()})
    assert set(schedules.of(sid)) == {"start", "no_show"}


def test_a_title_edit_leaves_the_schedules_alone(api, host, schedules):
    sid = schedule_space(api, minutes_from_now(120))
    before = {k: s["LastModificationDate"] for k, s in schedules.of(sid).items()}
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"title": "Renamed"})
    assert {k: s["LastModificationDate"] for k, s in schedules.of(sid).items()} == before


@pytest.mark.parametrize("action", ["cancel", "start"])
def test_canceling_or_starting_deletes_the_schedules(api, host, schedules, action):
    sid = schedule_space(api, minutes_from_now(120))
    keep = schedule_space(api, minutes_from_now(180))
    if action == "cancel":
        assert api.call("DELETE", f"/v1/spaces/{sid}", as_user="host").status_code == 200
    else:
        assert api.call("POST", f"/v1/spaces/{sid}/start", as_user="host").status_code == 200
    assert schedules.of(sid) == {}
    assert set(schedules.of(keep)) == {"reminder", "start", "no_show"}


def test_a_ticketed_space_cannot_be_moved_and_keeps_its_schedules(api, host, schedules):
    from chalicelib.container import get_container
    from chalicelib.domain.spaces import Space, SpaceState, Ticketing

    now = datetime.now(UTC)
    start = minutes_from_now(120)
    space = Space(id="sp_ticketed0000000000", host_id="host", title="Paid", state=SpaceState.scheduled,
                  scheduled_start=start, ticket=Ticketing(price_cents=500, currency="usd", quantity=10),
                  created_at=now, updated_at=now)
    c = get_container()
    c.space_repo.create(space)
    c.lifecycle.after_create(space)
    before = schedules.of(space.id)
    res = api.call("PATCH", f"/v1/spaces/{space.id}", as_user="host", body={"scheduled_start": minutes_from_now(200).isoformat()})
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    assert schedules.of(space.id) == before and at_time(before["start"]) == start


def test_when_the_scheduler_is_down_the_space_is_kept_and_the_schedules_follow(api, host, schedules, runner,
                                                                              monkeypatch):
    from chalicelib.adapters.scheduler import EventBridgeScheduler
    from chalicelib.domain.errors import UpstreamUnavailable

    def down(*_a, **_k):
        raise UpstreamUnavailable("scheduler down")

    with monkeypatch.context() as m:
        m.setattr(EventBridgeScheduler, "put", down)
        sid = schedule_space(api, minutes_from_now(120))
    assert schedules.of(sid) == {}
    runner.drain()
    assert set(schedules.of(sid)) == {"reminder", "start", "no_show"}


# -- the handlers -------------------------------------------------------------------------------
def invoke(kind: str, schedule: dict):
    import app

    handler = {"reminder": app.space_reminder, "start": app.space_start, "no_show": app.space_no_show}[kind]
    return handler(json.loads(schedule["Target"]["Input"]), None)


def test_the_reminder_handler_pushes_to_the_host_only(api, host, schedules, pushes):
    host_arn = register_device(api, pushes, "host", APNS_HOST)
    fan_arn = register_device(api, pushes, "fan", APNS_FAN)
    sid = schedule_space(api, minutes_from_now(120))
    api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user="fan")
    out = invoke("reminder", schedules.of(sid)["reminder"])
    assert out["space_id"] == sid and "reminded" in out["done"]
    assert pushes.titles_to(host_arn) == ["Your Space starts soon"]
    assert pushes.data_to(host_arn) == [{"type": "host_reminder", "space_id": sid}]
    assert pushes.to(fan_arn) == []


def test_a_stale_schedule_does_nothing(api, host, schedules, pushes):
    host_arn = register_device(api, pushes, "host", APNS_HOST)
    sid = schedule_space(api, minutes_from_now(120))
    old = schedules.of(sid)["reminder"]
    api.call("PATCH", f"/v1/spaces/{sid}", as_user="host", body={"scheduled_start": minutes_from_now(240).isoformat()})
    assert "stale" in invoke("reminder", old)["done"]
    assert pushes.to(host_arn) == []


def test_the_start_handler_tells_the_host_and_every_reminder_holder(api, host, schedules, pushes, runner, settings):
    host_arn = register_device(api, pushes, "host", APNS_HOST)
    fans = {f"fan{i}": register_device(api, pushes, f"fan{i}", f"{i:02x}" * 32) for i in range(5)}
    stranger = register_device(api, pushes, "stranger", "ef" * 32)
    sid = schedule_space(api, minutes_from_now(120))
    for fan in fans:
        api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user=fan)
    invoke("start", schedules.of(sid)["start"])
    assert pushes.titles_to(host_arn) == ["Time to go live"]
    assert all(pushes.to(arn) == [] for arn in fans.values()), "reminder holders are reached through the queue"
    runner.drain()
    assert all(pushes.titles_to(arn) == ["Starting now"] for arn in fans.values())
    assert pushes.to(stranger) == []


def test_start_handler_on_a_space_already_live_does_nothing(api, host, schedules, pushes):
    host_arn = register_device(api, pushes, "host", APNS_HOST)
    sid = schedule_space(api, minutes_from_now(120))
    start = schedules.of(sid)["start"]
    api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    assert invoke("start", start)["done"] == "nothing (live)"
    assert pushes.to(host_arn) == []


def test_the_no_show_handler_cancels_and_tells_reminder_holders(api, host, schedules, pushes, runner):
    fan_arn = register_device(api, pushes, "fan", APNS_FAN)
    sid = schedule_space(api, minutes_from_now(120))
    api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user="fan")
    no_show = schedules.of(sid)["no_show"]
    assert invoke("no_show", no_show)["done"] == "canceled (no-show)"
    space = api.call("GET", f"/v1/spaces/{sid}", as_user="fan").json
    assert space["state"] == "canceled" and space["ended_at"]
    assert schedules.of(sid) == {}
    runner.drain()
    assert pushes.titles_to(fan_arn) == ["Space canceled"]
    # Scheduler delivers at least once: a repeat re-runs the cancel hooks (refunds resume) and
    # changes nothing else.
    assert invoke("no_show", no_show)["done"] == "canceled (no-show)"
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="fan").json["state"] == "canceled"


def test_the_no_show_handler_leaves_a_space_that_started(api, host, schedules):
    sid = schedule_space(api, minutes_from_now(120))
    no_show = schedules.of(sid)["no_show"]
    api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    assert invoke("no_show", no_show)["done"] == "nothing (live)"
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="host").json["state"] == "live"


def test_a_handler_refuses_an_invocation_of_another_kind(api, host, schedules):
    import app

    sid = schedule_space(api, minutes_from_now(120))
    with pytest.raises(ValueError):
        app.space_no_show(json.loads(schedules.of(sid)["start"]["Target"]["Input"]), None)
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="host").json["state"] == "scheduled"


def test_the_local_runner_fires_due_schedules_through_the_same_handlers(api, host, schedules, pushes, runner):
    host_arn = register_device(api, pushes, "host", APNS_HOST)
    start = minutes_from_now(120)
    sid = schedule_space(api, start)
    assert runner.fire_due(start - timedelta(minutes=31)) == []
    fired = runner.fire_due(start)
    assert [name for name, _ in fired] == [f"{sid}.reminder", f"{sid}.start"]
    assert pushes.titles_to(host_arn) == ["Your Space starts soon", "Time to go live"]
    assert set(schedules.of(sid)) == {"no_show"}, "a schedule that ran is deleted"
    runner.fire_due(start + timedelta(minutes=60))
    assert api.call("GET", f"/v1/spaces/{sid}", as_user="host").json["state"] == "canceled"
    assert schedules.all() == {}


def test_a_schedule_that_is_running_is_left_to_delete_itself(api, host, schedules, monkeypatch):
    """The no-show cancels its own Space; the cancel must not delete the schedule under it (that
    would cut off Scheduler's retries if refunds fail); it deletes itself when done."""
    sid = schedule_space(api, minutes_from_now(120))
    no_show = schedules.of(sid)["no_show"]
    real_now = datetime.now(UTC)
    import chalicelib.services.schedules as module

    monkeypatch.setattr(module, "utcnow", lambda: real_now + timedelta(minutes=181))
    assert invoke("no_show", no_show)["done"] == "canceled (no-show)"
    assert set(schedules.of(sid)) == {"reminder", "start", "no_show"}, "all three had fired (the runner deletes them)"
