"""POST /v1/webhooks/livekit: signatures against the raw body, exact presence counts with
duplicate and out-of-order deliveries, corrections on join, and rooms that close themselves."""
from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import pytest
from google.protobuf.json_format import MessageToJson

from chalicelib.secrets import get_secret
from livekit import api as lk
from tests.helpers import container, race

WEBHOOK = "/v1/webhooks/livekit"


def event(kind: str, room: str, identity: str = "", sid: str = "", role: str | None = None,
          kind_of_participant=lk.ParticipantInfo.Kind.STANDARD, track: lk.TrackInfo | None = None) -> bytes:
    e = lk.WebhookEvent(event=kind, id=f"EV_{uuid.uuid4().hex[:12]}", created_at=int(time.time()),
                        room=lk.Room(name=room, sid="RM_1"))
    if track is not None:
        e.track.CopyFrom(track)
    if identity:
        e.participant.CopyFrom(lk.ParticipantInfo(identity=identity, sid=sid or f"PA_{identity}", kind=kind_of_participant,
                                                  attributes={"role": role} if role else {}))
    return MessageToJson(e).encode()


def sign(body: bytes, *, key: str | None = None, secret: str | None = None) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return (lk.AccessToken(key or get_secret("livekit_api_key"), secret or get_secret("livekit_api_secret"))
            .with_sha256(digest).to_jwt())


def deliver(api, body: bytes, *, auth: str | None = "sign", content_type="application/webhook+json"):
    headers = {"Content-Type": content_type}
    if auth == "sign":
        headers["Authorization"] = sign(body)
    elif auth is not None:
        headers["Authorization"] = auth
    return api.call("POST", WEBHOOK, raw=body, headers=headers)


def counts(api, space_id):
    s = api.call("GET", f"/v1/spaces/{space_id}", as_user="x").json
    return s["listener_count"], s["peak_listener_count"]


# -- signatures ------------------------------------------------------------------------------
def test_a_signed_event_is_accepted_with_either_content_type(api, space_id):
    body = event("participant_joined", space_id, "alice", role="listener")
    res = deliver(api, body)
    assert res.status_code == 200 and res.json == {"received": True, "outcome": "counted"}
    other = event("participant_joined", space_id, "bob", role="listener")
    assert deliver(api, other, content_type="application/json").status_code == 200
    assert counts(api, space_id) == (2, 2)


def test_a_missing_signature_is_401_and_changes_nothing(api, space_id):
    res = deliver(api, event("participant_joined", space_id, "alice"), auth=None)
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated"
    assert counts(api, space_id) == (0, 0)


@pytest.mark.parametrize("forge", ["wrong_secret", "wrong_key", "other_body", "garbage", "bearer_other_body"])
def test_a_bad_signature_is_401_and_changes_nothing(api, space_id, forge):
    body = event("participant_joined", space_id, "alice")
    auth = {
        "wrong_secret": lambda: sign(body, secret="not-the-secret-0123456789abcdef0123456789"),
        "wrong_key": lambda: sign(body, key="someone-else"),
        "other_body": lambda: sign(event("participant_joined", space_id, "mallory")),
        "garbage": lambda: "not.a.jwt",
        "bearer_other_body": lambda: "Bearer " + sign(body + b" "),
    }[forge]()
    res = deliver(api, body, auth=auth)
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated"
    assert counts(api, space_id) == (0, 0)


def test_a_tampered_body_fails_its_signature(api, space_id):
    body = event("participant_joined", space_id, "alice")
    auth = sign(body)
    tampered = body.replace(b"alice", b"mallo")
    assert deliver(api, tampered, auth=auth).status_code == 401


def test_a_signed_body_that_is_not_an_event_is_400(api):
    for body in (b"{not json", "\u00e9".encode("latin-1")):
        res = deliver(api, body)
        assert res.status_code == 400 and res.json["error"]["code"] == "validation_error"


# -- key rotation (infra/put_secrets.py --livekit-rotation) -----------------------------------
OLD_KEY, OLD_SECRET = "airwaves-old", "old-livekit-secret-0123456789abcdef0123456789"
NEXT_KEY, NEXT_SECRET = "airwaves-next", "next-livekit-secret-0123456789abcdef012345678"


def _unauthenticated(res) -> bool:
    err = res.json["error"]
    return res.status_code == 401 and err["code"] == "unauthenticated" and err["message"] and "details" in err


def test_the_previous_key_is_accepted_only_while_it_is_configured(api, space_id, monkeypatch):
    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_KEY", OLD_KEY)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_SECRET", OLD_SECRET)
    body = event("participant_joined", space_id, "alice", role="listener")
    assert deliver(api, body, auth=sign(body, key=OLD_KEY, secret=OLD_SECRET)).status_code == 200
    current = event("participant_joined", space_id, "bob", role="listener")
    assert deliver(api, current).status_code == 200, "the current key still works during a rotation"
    assert counts(api, space_id) == (2, 2)

    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_KEY", "")   # --livekit-rotation finish
    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_SECRET", "")
    late = event("participant_joined", space_id, "carol", role="listener")
    assert _unauthenticated(deliver(api, late, auth=sign(late, key=OLD_KEY, secret=OLD_SECRET)))
    assert counts(api, space_id) == (2, 2)


def test_the_next_key_is_accepted_while_a_rotation_is_begun(api, space_id, monkeypatch):
    """A node refreshed after ``promote`` signs with the new key while this container's cached
    secret may still hold it as "next"."""
    body = event("participant_joined", space_id, "alice", role="listener")
    assert _unauthenticated(deliver(api, body, auth=sign(body, key=NEXT_KEY, secret=NEXT_SECRET)))
    monkeypatch.setenv("AIRWAVES_LIVEKIT_NEXT_API_KEY", NEXT_KEY)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_NEXT_API_SECRET", NEXT_SECRET)
    assert deliver(api, body, auth=sign(body, key=NEXT_KEY, secret=NEXT_SECRET)).status_code == 200
    assert counts(api, space_id) == (1, 1)


@pytest.mark.parametrize("forge", ["unknown_pair", "previous_key_current_secret", "current_key_previous_secret",
                                   "no_issuer", "numeric_issuer"])
def test_a_key_we_do_not_hold_or_a_mismatched_pair_is_401(api, space_id, monkeypatch, forge):
    import jwt

    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_KEY", OLD_KEY)
    monkeypatch.setenv("AIRWAVES_LIVEKIT_PREVIOUS_API_SECRET", OLD_SECRET)
    body = event("participant_joined", space_id, "alice")
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    claims = {"sha256": digest, "exp": int(time.time()) + 60}
    auth = {
        "unknown_pair": lambda: sign(body, key="stranger", secret="stranger-secret-0123456789abcdef0123456789"),
        "previous_key_current_secret": lambda: sign(body, key=OLD_KEY),
        "current_key_previous_secret": lambda: sign(body, secret=OLD_SECRET),
        "no_issuer": lambda: jwt.encode(claims, get_secret("livekit_api_secret"), algorithm="HS256"),
        "numeric_issuer": lambda: jwt.api_jws.PyJWS().encode(json.dumps({**claims, "iss": 7}).encode(),
                                                             get_secret("livekit_api_secret"), algorithm="HS256"),
    }[forge]()
    assert _unauthenticated(deliver(api, body, auth=auth))
    assert counts(api, space_id) == (0, 0)


# -- presence --------------------------------------------------------------------------------
def test_joins_and_leaves_keep_exact_counts_and_peak(api, space_id):
    for who in ("a", "b", "c"):
        deliver(api, event("participant_joined", space_id, who, role="listener"))
    assert counts(api, space_id) == (3, 3)
    deliver(api, event("participant_left", space_id, "a"))
    deliver(api, event("participant_left", space_id, "b"))
    assert counts(api, space_id) == (1, 3)
    deliver(api, event("participant_joined", space_id, "d", role="listener"))
    assert counts(api, space_id) == (2, 3)


def test_duplicate_deliveries_are_harmless(api, space_id):
    joined = event("participant_joined", space_id, "alice", role="listener")
    assert deliver(api, joined).json["outcome"] == "counted"
    assert deliver(api, joined).json["outcome"] == "duplicate"
    assert counts(api, space_id) == (1, 1)
    left = event("participant_left", space_id, "alice")
    assert deliver(api, left).json["outcome"] == "uncounted"
    assert deliver(api, left).json["outcome"] == "duplicate"
    assert deliver(api, joined).json["outcome"] == "duplicate"  # a stale retry of the join
    assert counts(api, space_id) == (0, 1)


def test_a_leave_that_overtakes_its_join_cancels_it(api, space_id):
    assert deliver(api, event("participant_left", space_id, "alice", sid="PA_x")).json["outcome"] == "duplicate"
    assert deliver(api, event("participant_joined", space_id, "alice", sid="PA_x", role="listener")
                   ).json["outcome"] == "duplicate"
    assert counts(api, space_id) == (0, 0)
    # the same person's next connection is a new session and counts
    deliver(api, event("participant_joined", space_id, "alice", sid="PA_y", role="listener"))
    assert counts(api, space_id) == (1, 1)


def test_concurrent_joins_count_exactly(api, space_id):
    """Each join delivered twice, all at once, through the verification and the event handler
    (raced in threads directly: the Chalice test client cannot carry concurrent requests)."""
    c = container()
    bodies = [event("participant_joined", space_id, f"u{i}", role="listener") for i in range(12)]
    deliveries = bodies + bodies
    outcomes, errors, other = race(len(deliveries), lambda i: c.media_events.handle(
        c.media.verify_webhook(deliveries[i], sign(deliveries[i]))))
    assert (errors, other) == ([], [])
    assert sorted(outcomes) == ["counted"] * 12 + ["duplicate"] * 12
    assert counts(api, space_id) == (12, 12)


def test_non_people_and_unknown_rooms_are_ignored(api, space_id):
    egress = event("participant_joined", space_id, "EG_rec", kind_of_participant=lk.ParticipantInfo.Kind.EGRESS)
    assert deliver(api, egress).json["outcome"] == "ignored"
    assert deliver(api, event("participant_joined", "sp_unknown", "alice")).json["outcome"] in ("duplicate", "ignored")
    assert deliver(api, event("track_published", space_id, "host")).json["outcome"] == "ignored"
    assert counts(api, space_id) == (0, 0)


# -- audio only ----------------------------------------------------------------------------
@pytest.mark.parametrize("source", [lk.TrackSource.CAMERA, lk.TrackSource.MICROPHONE, lk.TrackSource.SCREEN_SHARE])
def test_a_published_video_track_is_muted_on_the_server_whatever_source_it_claims(api, media, space_id, source):
    media.connect(space_id, "host", "host")
    media.calls.clear()
    track = lk.TrackInfo(sid="TR_video1", type=lk.TrackType.VIDEO, source=source, name="microphone")
    res = deliver(api, event("track_published", space_id, "host", role="host", track=track))
    assert res.status_code == 200 and res.json["outcome"] == "track_refused"
    assert media.calls_named("mute_track") == [("mute_track", space_id, "host", "TR_video1")]


def test_a_published_audio_track_is_left_alone(api, media, space_id):
    media.connect(space_id, "host", "host")
    media.calls.clear()
    track = lk.TrackInfo(sid="TR_mic", type=lk.TrackType.AUDIO, source=lk.TrackSource.MICROPHONE)
    res = deliver(api, event("track_published", space_id, "host", role="host", track=track))
    assert res.json["outcome"] == "ignored" and media.calls_named("mute_track") == []


# -- corrections on join ---------------------------------------------------------------------
def test_a_join_with_a_stale_token_gets_the_current_role(api, media, space_id):
    api.call("PUT", f"/v1/spaces/{space_id}/speakers/bob", as_user="host")  # invited while away
    res = deliver(api, event("participant_joined", space_id, "bob", role="listener"))
    assert res.json["outcome"] == "role_corrected"
    assert media.calls_named("set_role")[-1][1:4] == (space_id, "bob", "speaker")


def test_a_banned_user_connecting_with_an_old_token_is_removed(api, media, space_id):
    api.call("POST", f"/v1/spaces/{space_id}/participants/mallory/remove", as_user="host")
    media.calls.clear()
    res = deliver(api, event("participant_joined", space_id, "mallory", sid="PA_m2", role="listener"))
    assert res.json["outcome"] == "removed"
    assert media.calls_named("remove_participant") == [("remove_participant", space_id, "mallory")]


# -- rooms that close ------------------------------------------------------------------------
def test_a_finished_room_ends_its_space_once(api, media, space_id):
    res = deliver(api, event("room_finished", space_id))
    assert res.status_code == 200 and res.json["outcome"] == "ended"
    space = api.call("GET", f"/v1/spaces/{space_id}", as_user="x").json
    assert space["state"] == "ended" and space["ended_at"]
    again = deliver(api, event("room_finished", space_id))
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert deliver(api, event("room_finished", "sp_unknown")).json["outcome"] == "duplicate"


def test_events_after_the_end_do_not_count_joins_but_let_people_leave(api, space_id):
    deliver(api, event("participant_joined", space_id, "alice", role="listener"))
    api.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
    assert deliver(api, event("participant_left", space_id, "alice")).json["outcome"] == "uncounted"
    assert deliver(api, event("participant_joined", space_id, "late", role="listener")).json["outcome"] == "removed"
    assert counts(api, space_id) == (0, 1)


def test_the_room_finishing_while_the_host_ends_the_space_still_answers_ended(api, media, space_id, monkeypatch):
    """Deleting the room makes livekit-server send ``room_finished``, which can end the Space
    before the host's own end is written (seen on CI as a 409 to the host)."""
    c = container()
    close_room = media.delete_room
    outcomes: list[str] = []

    def close_and_report(room: str) -> None:
        close_room(room)
        if outcomes:  # the webhook's own end closes the room again
            return
        outcomes.append("delivering")
        body = event("room_finished", room)
        outcomes.append(c.media_events.handle(c.media.verify_webhook(body, sign(body))))

    monkeypatch.setattr(media, "delete_room", close_and_report)
    res = api.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
    assert outcomes == ["delivering", "ended"]
    assert res.status_code == 200, res.body
    assert res.json["state"] == "ended" and res.json["ended_at"]
    stored = api.call("GET", f"/v1/spaces/{space_id}", as_user="x").json
    assert (stored["state"], stored["ended_at"]) == ("ended", res.json["ended_at"])
    again = api.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_state"
