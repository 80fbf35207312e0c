"""Moderation, reactions and the participant list over the API."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.roles import REACTION_LIMIT
from tests.helpers import assert_refused

pytestmark = pytest.mark.usefixtures("refusals_change_nothing")


def path(space_id: str, rest: str = "") -> str:
    return f"/v1/spaces/{space_id}{rest}"


# -- mute ------------------------------------------------------------------------------------
def test_moderators_mute_a_published_microphone(api, media, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    res = api.call("POST", path(space_id, "/participants/bob/mute"), as_user="host")
    assert res.status_code == 200 and res.json == {"space_id": space_id, "user_id": "bob", "connected": True,
                                                   "muted": True}
    assert media.connection(space_id, "bob").muted is True
    idle = api.call("POST", path(space_id, "/participants/gone/mute"), as_user="host")
    assert idle.status_code == 200 and idle.json["connected"] is False and idle.json["muted"] is False


def test_muting_is_for_moderators_and_never_the_host(api, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    assert_refused(api.call("POST", path(space_id, "/participants/bob/mute"), as_user="alice"), 403)
    assert_refused(api.call("POST", path(space_id, "/participants/host/mute"), as_user="carol"), 403)
    assert api.call("POST", path(space_id, "/participants/bob/mute")).status_code == 401
    assert api.call("POST", path("sp_missing", "/participants/bob/mute"), as_user="host").status_code == 404


def _mic_log(api, space_id):
    entries = api.call("GET", path(space_id, "/moderation-log"), as_user="host").json["items"]
    return [(e["action"], e["actor_id"], e["target_user_id"]) for e in entries]


def _held(space_id):
    from chalicelib.adapters.dynamodb import keys
    from tests.helpers import container

    return container().table.get(keys.space_pk(space_id), keys.modheld_sk("microphone_mute", "bob"), consistent=True)


@pytest.fixture
def speaking_bob(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    return media.connect(space_id, "bob", "speaker", publishing=True)


def test_muting_a_muted_microphone_logs_nothing_and_muting_it_again_once_reopened_does(api, space_id, speaking_bob):
    for caller in ("host", "host", "carol"):
        res = api.call("POST", path(space_id, "/participants/bob/mute"), as_user=caller)
        assert res.status_code == 200 and res.json["muted"] is True
    assert _mic_log(api, space_id) == [("microphone_mute", "host", "bob")]
    speaking_bob.muted = False  # bob turns it back on himself
    assert api.call("POST", path(space_id, "/participants/bob/mute"), as_user="carol").status_code == 200
    assert speaking_bob.muted is True and _held(space_id) is None
    assert _mic_log(api, space_id) == [("microphone_mute", "carol", "bob"), ("microphone_mute", "host", "bob")]


def test_a_microphone_mute_whose_log_write_failed_is_logged_once_by_its_retry(api, space_id, speaking_bob,
                                                                             monkeypatch):
    """The microphone was muted, then listing the entry failed (503): the entry stays held, and
    the retry (or another moderator's mute) lists that one, with its time and author."""
    from chalicelib.adapters.dynamodb.safety import DynamoModerationLog
    from chalicelib.domain.errors import UpstreamUnavailable

    real = DynamoModerationLog.commit

    def down(self, write):
        raise UpstreamUnavailable("the database is busy; try again")

    monkeypatch.setattr(DynamoModerationLog, "commit", down)
    res = api.call("POST", path(space_id, "/participants/bob/mute"), as_user="host")
    assert res.status_code == 503 and speaking_bob.muted is True and _mic_log(api, space_id) == []
    held_at = _held(space_id)["at"]
    monkeypatch.setattr(DynamoModerationLog, "commit", real)
    for caller in ("carol", "host"):
        assert api.call("POST", path(space_id, "/participants/bob/mute"), as_user=caller).status_code == 200
    [entry] = api.call("GET", path(space_id, "/moderation-log"), as_user="host").json["items"]
    assert (entry["action"], entry["actor_id"]) == ("microphone_mute", "host") and entry["at"][:19] == held_at[:19]
    assert _held(space_id) is None


def test_a_microphone_mute_the_media_server_refused_leaves_no_entry_held(api, media, space_id, speaking_bob,
                                                                        monkeypatch):
    from chalicelib.domain.errors import UpstreamUnavailable

    def down(*args):
        raise UpstreamUnavailable("the media server cannot be reached")

    monkeypatch.setattr(media, "mute_track", down)
    assert api.call("POST", path(space_id, "/participants/bob/mute"), as_user="host").status_code == 503
    assert speaking_bob.muted is False and _held(space_id) is None
    monkeypatch.delattr(media, "mute_track")  # the adapter's own again
    assert api.call("POST", path(space_id, "/participants/bob/mute"), as_user="host").status_code == 200
    assert _mic_log(api, space_id) == [("microphone_mute", "host", "bob")]


# -- remove ----------------------------------------------------------------------------------
def test_removal_disconnects_takes_the_stage_away_and_bans_rejoining(api, media, space_id):
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    media.connect(space_id, "bob", "speaker", publishing=True)
    api.call("POST", path(space_id, "/speak-requests"), as_user="amy")
    res = api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")
    assert res.status_code == 200 and res.json == {"space_id": space_id, "user_id": "bob", "banned": True,
                                                   "disconnected": True}
    assert media.connection(space_id, "bob") is None
    assert api.call("GET", path(space_id), as_user="x").json["speaker_ids"] == []
    rejoin = api.call("POST", path(space_id, "/join"), as_user="bob")
    assert_refused(rejoin, 403, "banned")
    for method, rest in (("POST", "/speak-requests"),):
        assert api.call(method, path(space_id, rest), as_user="bob").json["error"]["code"] == "banned"
    reacted = api.call("POST", path(space_id, "/reactions"), as_user="bob", body={"emoji": "🔥"})
    assert_refused(reacted, 403, "banned")
    promoted = api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    assert_refused(promoted, 403, "banned")
    again = api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")
    assert again.status_code == 200 and again.json["disconnected"] is False
    assert api.call("POST", path(space_id, "/join"), as_user="amy").status_code == 200


def test_a_removal_whose_log_write_failed_is_logged_once_by_its_retry(api, media, space_id, monkeypatch):
    """The ban and the disconnect happened, then the log write failed (503). The retry (and any
    later removal of the same person) writes the ban's own entry: once, with the ban's time and
    author, whoever sends it."""
    from chalicelib.adapters.dynamodb.safety import DynamoModerationLog
    from chalicelib.domain.errors import UpstreamUnavailable
    from tests.helpers import container

    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    media.connect(space_id, "bob", "listener")
    real = DynamoModerationLog.record

    def down(self, entry, *, expires_at):
        raise UpstreamUnavailable("the database is busy; try again")

    monkeypatch.setattr(DynamoModerationLog, "record", down)
    res = api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")
    assert res.status_code == 503 and res.json["error"]["code"] == "upstream_unavailable"
    assert media.connection(space_id, "bob") is None
    monkeypatch.setattr(DynamoModerationLog, "record", real)
    log = lambda: api.call("GET", path(space_id, "/moderation-log"), as_user="host").json["items"]  # noqa: E731
    assert log() == []
    for caller in ("host", "host", "carol"):  # the retry, then more removals of the same ban
        assert api.call("POST", path(space_id, "/participants/bob/remove"), as_user=caller).status_code == 200
    [entry] = log()
    assert (entry["action"], entry["actor_id"], entry["target_user_id"]) == ("remove", "host", "bob")
    banned_at = container().member_repo.get(space_id, "bob", consistent=True).banned_at
    assert entry["at"] == banned_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")  # the API shows seconds


def test_the_refusal_watch_fails_a_refusal_that_wrote(api, space_id, monkeypatch):
    """This module's ``refusals_change_nothing`` is no formality: a 403 that had banned someone
    first fails the call that got it."""
    from chalicelib.domain.errors import Forbidden
    from chalicelib.services.moderation import ModerationService

    def ban_then_refuse(self, caller, space_id, user_id):
        self.members.ban(space_id, user_id, by=caller, now=datetime.now(UTC))
        raise Forbidden("refused after writing")

    monkeypatch.setattr(ModerationService, "remove", ban_then_refuse)
    with pytest.raises(AssertionError, match=r"changed the table: \[\('SPACE#"):
        api.call("POST", path(space_id, "/participants/bob/remove"), as_user="host")


def test_removal_rules(api, space_id):
    api.call("PUT", path(space_id, "/cohosts/c1"), as_user="host")
    api.call("PUT", path(space_id, "/cohosts/c2"), as_user="host")
    assert_refused(api.call("POST", path(space_id, "/participants/host/remove"), as_user="c1"), 403)
    assert_refused(api.call("POST", path(space_id, "/participants/c2/remove"), as_user="c1"), 403)
    assert_refused(api.call("POST", path(space_id, "/participants/x/remove"), as_user="listener"), 403)
    own = api.call("POST", path(space_id, "/participants/host/remove"), as_user="host")
    assert_refused(own, 409, "invalid_state")
    assert api.call("POST", path(space_id, "/participants/c2/remove"), as_user="host").status_code == 200
    assert api.call("GET", path(space_id), as_user="x").json["cohost_ids"] == ["c1"]


# -- reactions -------------------------------------------------------------------------------
def test_reactions_reach_everyone_in_the_room(api, media, space_id):
    res = api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "💯"})
    assert res.status_code == 201
    assert res.json["emoji"] == "💯" and res.json["user_id"] == "alice" and res.json["sent_at"].endswith("Z")
    sent = media.sent[-1]
    assert sent["topic"] == "airwaves.reactions" and sent["to"] == []  # no destination: everyone
    assert sent["payload"] == {"type": "reaction", "space_id": space_id, "user_id": "alice", "emoji": "💯",
                               "sent_at": res.json["sent_at"]}


@pytest.mark.parametrize("body", [{"emoji": "🍕"}, {"emoji": ""}, {}, {"emoji": "🔥", "extra": 1}, {"emoji": 5}])
def test_reactions_come_from_the_fixed_set(api, space_id, body):
    res = api.call("POST", path(space_id, "/reactions"), as_user="alice", body=body)
    assert res.status_code == 400 and res.json["error"]["code"] == "validation_error"


def test_reactions_are_rate_limited_per_person(api, media, space_id, monkeypatch):
    from datetime import datetime

    import chalicelib.services.reactions as reactions

    frozen = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    monkeypatch.setattr(reactions, "utcnow", lambda: frozen)
    codes = [api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "👏"}).status_code
             for _ in range(REACTION_LIMIT + 2)]
    assert codes == [201] * REACTION_LIMIT + [429, 429]
    limited = api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "👏"})
    assert limited.json["error"]["code"] == "rate_limited"
    assert limited.json["error"]["details"]["retry_after_seconds"] == 9
    assert len([s for s in media.sent if s["topic"] == "airwaves.reactions"]) == REACTION_LIMIT
    assert api.call("POST", path(space_id, "/reactions"), as_user="bob", body={"emoji": "👏"}).status_code == 201
    monkeypatch.setattr(reactions, "utcnow", lambda: frozen.replace(second=11))
    assert api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "👏"}).status_code == 201


def test_reactions_need_a_live_space_and_auth(api, space_id):
    assert api.call("POST", path(space_id, "/reactions"), body={"emoji": "🔥"}).status_code == 401
    assert api.call("POST", path("sp_missing", "/reactions"), as_user="a", body={"emoji": "🔥"}).status_code == 404
    api.call("POST", path(space_id, "/end"), as_user="host")
    assert_refused(api.call("POST", path(space_id, "/reactions"), as_user="a", body={"emoji": "🔥"}), 409)


def test_a_retried_reaction_with_the_same_key_is_sent_once(api, media, space_id):
    headers = {"Idempotency-Key": "tap-1"}
    first = api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "🔥"}, headers=headers)
    second = api.call("POST", path(space_id, "/reactions"), as_user="alice", body={"emoji": "🔥"}, headers=headers)
    assert first.status_code == second.status_code == 201 and first.json == second.json
    assert len([s for s in media.sent if s["topic"] == "airwaves.reactions"]) == 1


# -- participants ----------------------------------------------------------------------------
def test_participants_show_the_stage_who_is_connected_and_the_queue_to_moderators(api, media, space_id):
    api.call("PUT", path(space_id, "/cohosts/carol"), as_user="host")
    api.call("PUT", path(space_id, "/speakers/bob"), as_user="host")
    api.call("POST", path(space_id, "/speak-requests"), as_user="amy")
    media.connect(space_id, "host", "host", publishing=True)
    media.connect(space_id, "bob", "speaker", publishing=True).muted = True
    media.connect(space_id, "amy", "listener")
    media.connect(space_id, "zed", "listener")
    res = api.call("GET", path(space_id, "/participants"), as_user="host")
    assert res.status_code == 200
    body = res.json
    assert body["host"] == {"user_id": "host", "role": "host", "connected": True, "publishing": True, "muted": False}
    assert body["cohosts"] == [{"user_id": "carol", "role": "cohost", "connected": False, "publishing": False,
                                "muted": True}]
    assert body["speakers"][0]["user_id"] == "bob" and body["speakers"][0]["muted"] is True
    assert [p["user_id"] for p in body["listeners"]] == ["amy", "zed"] and body["listeners_truncated"] is False
    assert [r["user_id"] for r in body["speak_requests"]] == ["amy"]
    assert body["speaker_limit"] == 10 and body["cohost_limit"] == 2
    assert body["listener_count"] == 0 and body["peak_listener_count"] == 0  # counts come from webhooks
    listener_view = api.call("GET", path(space_id, "/participants"), as_user="zed").json
    assert listener_view["speak_requests"] is None
    assert api.call("GET", path(space_id, "/participants")).status_code == 401
    assert api.call("GET", path("sp_missing", "/participants"), as_user="zed").status_code == 404
