"""Reminders (idempotent, counted exactly on the Space) and push device registration on moto SNS."""
from __future__ import annotations

import pytest

from tests.helpers import container, race, rfc3339_in

APNS = "0f" * 32
FCM = "dKx1-abc_" + "Q" * 120 + ":APA91bH"


def later(minutes: float = 120) -> str:
    return rfc3339_in(minutes)


@pytest.fixture
def scheduled_id(api):
    """A scheduled Space hosted by ``host``."""
    api.make_user("host", 1000)
    return api.call("POST", "/v1/spaces", as_user="host", body={"title": "Soon", "scheduled_start": later()}).json["id"]


def reminder(api, method, sid, user):
    return api.call(method, f"/v1/spaces/{sid}/reminder", as_user=user)


def test_set_and_clear_a_reminder_idempotently(api, scheduled_id):
    first = reminder(api, "PUT", scheduled_id, "fan")
    assert first.status_code == 200
    assert first.json == {"space_id": scheduled_id, "reminder_set": True, "subscriber_count": 1}
    assert reminder(api, "PUT", scheduled_id, "fan").json["subscriber_count"] == 1, "a repeat changes nothing"
    assert reminder(api, "PUT", scheduled_id, "other").json["subscriber_count"] == 2
    assert reminder(api, "GET", scheduled_id, "fan").json["reminder_set"] is True
    assert api.call("GET", f"/v1/spaces/{scheduled_id}", as_user="x").json["subscriber_count"] == 2
    cleared = reminder(api, "DELETE", scheduled_id, "fan")
    assert cleared.status_code == 200 and cleared.json == {"space_id": scheduled_id, "reminder_set": False,
                                                          "subscriber_count": 1}
    assert reminder(api, "DELETE", scheduled_id, "fan").json["subscriber_count"] == 1
    assert reminder(api, "GET", scheduled_id, "fan").json["reminder_set"] is False


def test_subscriber_count_is_exact_under_concurrent_reminders(api, scheduled_id):
    """Two threads per user toggle at once through the service (the Chalice test client keeps the
    current request on the app object, so it cannot carry concurrent requests): every call
    succeeds, and the count is the number of reminders stored, which is every user's last PUT."""
    reminders = container().reminders
    users = [f"u{i}" for i in range(12)]

    def toggle(i: int) -> list[bool]:
        user = users[i % len(users)]
        states = []
        for _ in range(2):
            states.append(reminders.set(user, scheduled_id)[1])
            states.append(reminders.clear(user, scheduled_id)[1])
        states.append(reminders.set(user, scheduled_id)[1])
        return states

    results, errors, other = race(2 * len(users), toggle)
    assert (errors, other) == ([], [])
    assert results == [[True, False, True, False, True]] * (2 * len(users))
    assert all(reminders.status(u, scheduled_id)[1] for u in users), "each user's last call set it"
    assert api.call("GET", f"/v1/spaces/{scheduled_id}", as_user="x").json["subscriber_count"] == len(users)
    unset = reminders.clear("u0", scheduled_id)[0]
    assert unset.subscriber_count == len(users) - 1


def test_reminders_are_for_scheduled_spaces(api, scheduled_id):
    live = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Now"}).json["id"]
    res = reminder(api, "PUT", live, "fan")
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    missing = reminder(api, "PUT", "sp_nope", "fan")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert reminder(api, "DELETE", "sp_nope", "fan").status_code == 404
    assert reminder(api, "PUT", scheduled_id, None).status_code == 401
    reminder(api, "PUT", scheduled_id, "fan")
    api.call("DELETE", f"/v1/spaces/{scheduled_id}", as_user="host")
    assert reminder(api, "PUT", scheduled_id, "late").status_code == 409
    gone = reminder(api, "DELETE", scheduled_id, "fan")
    assert gone.status_code == 200 and gone.json["subscriber_count"] == 0, "clearing works in any state"


# -- devices ------------------------------------------------------------------------------------
def register(api, user, platform, token, **headers):
    return api.call("POST", "/v1/me/devices", as_user=user, body={"platform": platform, "token": token},
                    headers=headers)


def test_register_apns_and_fcm_devices_as_sns_endpoints(api, aws, pushes):
    from chalicelib.settings import get_settings

    s = get_settings()
    apns = register(api, "amy", "apns", APNS.upper())
    fcm = register(api, "amy", "fcm", FCM)
    assert apns.status_code == fcm.status_code == 201
    assert apns.json["platform"] == "apns" and apns.json["id"].startswith("dv_") and apns.json["created_at"]
    endpoints = {e.token: e for e in pushes.endpoints().values()}
    assert endpoints[APNS].application.arn == s.apns_platform_application_arn, "tokens are stored canonical"
    assert endpoints[FCM].application.arn == s.fcm_platform_application_arn
    again = register(api, "amy", "apns", APNS)
    assert again.status_code == 200 and again.json["id"] == apns.json["id"]
    assert len(pushes.endpoints()) == 2


@pytest.mark.parametrize("body, field", [
    ({"platform": "webpush", "token": APNS}, "platform"),
    ({"platform": "apns", "token": "not-hex"}, "token"),
    ({"platform": "apns", "token": "ab" * 10}, "token"),
    ({"platform": "fcm", "token": "tiny"}, "token"),
    ({"platform": "fcm", "token": "x" * 5000}, "token"),
    ({"platform": "apns"}, "token"),
    ({"token": APNS}, "platform"),
    ({"platform": "apns", "token": APNS, "extra": 1}, "extra"),
])
def test_bad_platforms_and_tokens_are_400(api, aws, pushes, body, field):
    res = api.call("POST", "/v1/me/devices", as_user="amy", body=body)
    assert res.status_code == 400, res.body
    assert res.json["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in res.json["error"]["details"]]
    assert pushes.endpoints() == {}


def test_a_platform_the_deployment_does_not_offer_is_400(api, aws, monkeypatch):
    from chalicelib.container import get_container

    get_container().push.applications.pop("fcm")
    res = register(api, "amy", "fcm", FCM)
    assert res.status_code == 400 and res.json["error"]["details"][0]["field"] == "platform"


def test_endpoints_sns_reports_disabled_are_dropped(api, aws, pushes):
    from chalicelib.container import get_container
    from chalicelib.domain.notifications import Push

    register(api, "amy", "apns", APNS)
    register(api, "amy", "fcm", FCM)
    dead = next(arn for arn, e in pushes.endpoints().items() if e.token == APNS)
    alive = next(arn for arn, e in pushes.endpoints().items() if e.token == FCM)
    pushes.disable(dead)
    c = get_container()
    assert c.notifier.send(["amy"], Push(title="Hi", body="there")) == 1
    assert [d.platform for d in c.device_repo.of_users(["amy"])["amy"]] == ["fcm"]
    assert dead not in pushes.endpoints(), "the disabled endpoint is deleted from SNS too"
    assert c.notifier.send(["amy"], Push(title="Again", body="!")) == 1
    assert pushes.titles_to(alive) == ["Hi", "Again"]


def test_re_registering_a_token_sns_disabled_gives_a_working_endpoint(api, aws, pushes):
    from chalicelib.container import get_container
    from chalicelib.domain.notifications import Push

    register(api, "amy", "apns", APNS)
    old = next(iter(pushes.endpoints()))
    pushes.disable(old)
    res = register(api, "amy", "apns", APNS)
    assert res.status_code == 201
    (new,) = pushes.endpoints()
    assert new != old
    assert get_container().notifier.send(["amy"], Push(title="Back", body="!")) == 1


def test_a_device_signing_in_as_someone_else_leaves_its_old_owner(api, aws, pushes):
    from chalicelib.container import get_container

    register(api, "amy", "apns", APNS)
    register(api, "bob", "apns", APNS)
    devices = get_container().device_repo.of_users(["amy", "bob"])
    assert devices.get("amy", []) == [] and len(devices["bob"]) == 1


def test_old_devices_make_room_past_the_cap(api, aws, pushes):
    from chalicelib.container import get_container
    from chalicelib.domain.devices import MAX_DEVICES_PER_USER

    ids = [register(api, "amy", "apns", f"{i:04x}" * 16).json["id"] for i in range(MAX_DEVICES_PER_USER + 2)]
    kept = [d.id for d in get_container().device_repo.of_users(["amy"])["amy"]]
    assert sorted(kept) == sorted(ids[2:])


def test_unregister_a_device(api, aws, pushes):
    device = register(api, "amy", "apns", APNS).json["id"]
    assert api.call("DELETE", f"/v1/me/devices/{device}", as_user="bob").status_code == 404
    res = api.call("DELETE", f"/v1/me/devices/{device}", as_user="amy")
    assert res.status_code == 204 and pushes.endpoints() == {}
    assert api.call("DELETE", f"/v1/me/devices/{device}", as_user="amy").status_code == 404


def test_device_registration_honours_idempotency_keys(api, aws, pushes):
    first = register(api, "amy", "apns", APNS, **{"Idempotency-Key": "dev-1"})
    second = register(api, "amy", "apns", APNS, **{"Idempotency-Key": "dev-1"})
    assert first.status_code == second.status_code == 201 and first.json == second.json
    assert second.headers.get("Idempotent-Replayed") == "true"


def test_an_evicted_devices_push_endpoint_is_deleted(api, aws, pushes):
    from chalicelib.domain.devices import MAX_DEVICES_PER_USER

    for i in range(MAX_DEVICES_PER_USER + 5):
        register(api, "amy", "apns", f"{i:04x}" * 16)
    assert len(pushes.endpoints()) == MAX_DEVICES_PER_USER, "no endpoint is left behind"


def test_device_registration_is_rate_limited_per_person(api, aws, pushes, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_DEVICE_REGISTRATIONS_PER_HOUR", "3")
    reset_container()
    codes = [register(api, "amy", "apns", f"{i:04x}" * 16).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    res = register(api, "amy", "apns", "ffff" * 16)
    assert res.json["error"]["code"] == "rate_limited" and res.json["error"]["details"]["limit"] == 3
    assert len(pushes.endpoints()) == 3, "a refused registration creates no endpoint"
    assert register(api, "bob", "apns", "eeee" * 16).status_code == 201, "per person"
