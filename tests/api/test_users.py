"""Profiles, the follow graph (exact counts under concurrency) and eligibility."""
from __future__ import annotations

import threading

import pytest


def test_admin_upsert_creates_then_updates_a_profile(api):
    first = api.call("PUT", "/v1/admin/users/alice", as_user="root", admin=True,
                     body={"handle": "alice", "display_name": "Alice", "follower_count": 700})
    assert first.status_code == 201
    assert first.json == {"id": "alice", "handle": "alice", "display_name": "Alice",
                          "follower_count": 700, "following_count": 0}
    again = api.call("PUT", "/v1/admin/users/alice", as_user="root", admin=True,
                     body={"handle": "alice2", "display_name": "Alice B"})
    assert again.status_code == 200
    assert again.json["handle"] == "alice2" and again.json["follower_count"] == 700


@pytest.mark.parametrize("body, field", [
    ({"display_name": "x"}, "handle"),
    ({"handle": "has space", "display_name": "x"}, "handle"),
    ({"handle": "ok", "display_name": ""}, "display_name"),
    ({"handle": "ok", "display_name": "x", "follower_count": -1}, "follower_count"),
    ({"handle": "ok", "display_name": "x", "birthdate": "not-a-date"}, "birthdate"),
    ({"handle": "ok", "display_name": "x", "surprise": 1}, "surprise"),
])
def test_upsert_validation_names_the_bad_field(api, body, field):
    res = api.call("PUT", "/v1/admin/users/u1", as_user="root", admin=True, body=body)
    assert res.status_code == 400
    assert res.json["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in res.json["error"]["details"]]


def test_get_user_and_404(api):
    api.make_user("alice", 10)
    assert api.call("GET", "/v1/users/alice", as_user="bob").json["follower_count"] == 10
    missing = api.call("GET", "/v1/users/nobody", as_user="bob")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_follow_and_unfollow_are_idempotent_and_move_both_counts(api):
    api.make_user("alice", 0)
    api.make_user("bob", 0)
    for _ in range(3):
        assert api.call("PUT", "/v1/me/following/alice", as_user="bob").status_code == 200
    assert api.call("GET", "/v1/users/alice", as_user="bob").json["follower_count"] == 1
    assert api.call("GET", "/v1/users/bob", as_user="bob").json["following_count"] == 1
    listing = api.call("GET", "/v1/me/following", as_user="bob").json
    assert [u["id"] for u in listing["items"]] == ["alice"] and listing["next_cursor"] is None
    for _ in range(2):
        assert api.call("DELETE", "/v1/me/following/alice", as_user="bob").status_code == 200
    assert api.call("GET", "/v1/users/alice", as_user="bob").json["follower_count"] == 0
    assert api.call("GET", "/v1/users/bob", as_user="bob").json["following_count"] == 0


def test_follow_refuses_self_and_unknown_users(api):
    api.make_user("bob", 0)
    me = api.call("PUT", "/v1/me/following/bob", as_user="bob")
    assert me.status_code == 403 and me.json["error"]["code"] == "forbidden"
    ghost = api.call("PUT", "/v1/me/following/ghost", as_user="bob")
    assert ghost.status_code == 404
    assert api.call("GET", "/v1/users/bob", as_user="bob").json["following_count"] == 0


def test_following_list_pages_with_opaque_cursors(api):
    api.make_user("fan", 0)
    for i in range(5):
        api.make_user(f"star{i}", 0)
        api.call("PUT", f"/v1/me/following/star{i}", as_user="fan")
    seen, cursor = [], None
    while True:
        page = api.call("GET", "/v1/me/following?limit=2" + (f"&cursor={cursor}" if cursor else ""), as_user="fan").json
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"star{i}" for i in range(5)]
    other = api.call("GET", "/v1/me/following?cursor=" + "abc.def", as_user="fan")
    assert other.status_code == 400 and other.json["error"]["details"][0]["field"] == "cursor"


def test_concurrent_follows_and_unfollows_keep_counts_exact(api):
    """Many threads follow and unfollow at once; counts must equal the edges that remain."""
    api.make_user("celebrity", 0)
    fans = [f"fan{i}" for i in range(24)]
    for fan in fans:
        api.make_user(fan, 0)
        api.token(fan)
    from chalicelib.container import get_container

    users = get_container().users
    errors: list[BaseException] = []

    def churn(fan: str, index: int) -> None:
        try:
            for round_ in range(6):
                users.follow(fan, "celebrity")
                users.follow(fan, "celebrity")
                if (index + round_) % 2:
                    users.unfollow(fan, "celebrity")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(fan, i)) for i, fan in enumerate(fans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    still_following = [f for f in fans if users.users.is_following(f, "celebrity")]
    celebrity = api.call("GET", "/v1/users/celebrity", as_user="x").json
    assert celebrity["follower_count"] == len(still_following)
    for fan in fans:
        expected = 1 if fan in still_following else 0
        assert api.call("GET", f"/v1/users/{fan}", as_user="x").json["following_count"] == expected


def test_eligibility_reports_threshold_and_reasons(api):
    api.make_user("small", 599)
    api.make_user("big", 600)
    api.make_user("locked", 5000, protected=True)
    small = api.call("GET", "/v1/me/eligibility", as_user="small").json
    assert small["can_host"] is False and small["reasons"] == ["not_enough_followers"]
    assert small["required_followers"] == 600 and small["follower_count"] == 599
    assert small["can_host_ticketed"] is False
    assert api.call("GET", "/v1/me/eligibility", as_user="big").json["can_host"] is True
    assert api.call("GET", "/v1/me/eligibility", as_user="locked").json["reasons"] == ["account_protected"]
    assert api.call("GET", "/v1/me/eligibility", as_user="nobody").status_code == 404


def test_threshold_is_configurable_down_to_everyone(api, monkeypatch):
    monkeypatch.setenv("AIRWAVES_HOST_MIN_FOLLOWERS", "0")
    from chalicelib.container import reset_container

    reset_container()
    api.make_user("newbie", 0)
    verdict = api.call("GET", "/v1/me/eligibility", as_user="newbie").json
    assert verdict["can_host"] is True and verdict["required_followers"] == 0
    assert api.call("POST", "/v1/spaces", as_user="newbie", body={"title": "First"}).status_code == 201


def _ticketed_reasons(api, user: str) -> list[str]:
    res = api.call("GET", "/v1/me/eligibility", as_user=user)
    assert res.status_code == 200, res.body
    return res.json["ticketed_reasons"]


def test_spaces_that_go_live_at_once_count_as_hosted_for_ticketed_eligibility(api):
    api.make_user("direct", 5000, birthdate="1990-01-01")
    assert "not_enough_recent_spaces" in _ticketed_reasons(api, "direct")
    for i in range(3):
        made = api.call("POST", "/v1/spaces", as_user="direct", body={"title": f"live now {i}"})
        assert made.status_code == 201, made.body
        assert api.call("POST", f"/v1/spaces/{made.json['id']}/end", as_user="direct").status_code == 200
    assert "not_enough_recent_spaces" not in _ticketed_reasons(api, "direct")


def test_the_hosted_history_on_the_profile_stays_bounded(api):
    from chalicelib.domain.users import HOSTED_STARTS_KEPT
    from tests.helpers import container

    api.make_user("busy", 5000, birthdate="1990-01-01")
    for i in range(HOSTED_STARTS_KEPT + 5):
        made = api.call("POST", "/v1/spaces", as_user="busy", body={"title": f"again {i}"})
        assert made.status_code == 201, made.body
        assert api.call("POST", f"/v1/spaces/{made.json['id']}/end", as_user="busy").status_code == 200
    starts = container().user_repo.get("busy").hosted_starts
    assert len(starts) == HOSTED_STARTS_KEPT
    assert starts == sorted(starts), "the oldest went first"
    assert "not_enough_recent_spaces" not in _ticketed_reasons(api, "busy")
