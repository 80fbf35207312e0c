"""Joining a Space over the API: least-privilege tokens, the host's credentials, admission checks,
and the media room following the Space's life."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from chalicelib.adapters.dynamodb import keys
from chalicelib.secrets import get_secret
from tests.helpers import rfc3339_in


def claims(token: str) -> dict:
    return jwt.decode(token, get_secret("livekit_api_secret"), algorithms=["HS256"],
                      issuer=get_secret("livekit_api_key"))


def join(api, space_id, user):
    return api.call("POST", f"/v1/spaces/{space_id}/join", as_user=user)


def test_a_live_create_opens_the_room_and_hands_the_host_publishing_credentials(api, media):
    api.make_user("host", 1000)
    res = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Live"})
    assert res.status_code == 201
    space = res.json
    assert media.calls_named("create_room") == [("create_room", space["id"])]
    assert media.rooms == {space["id"]: {}}
    join = space["join"]
    assert join["role"] == "host" and join["livekit_url"] == "ws://127.0.0.1:7880"
    c = claims(join["token"])
    assert c["sub"] == "host" and c["video"]["room"] == space["id"] and c["video"]["roomJoin"] is True
    assert c["video"]["canPublish"] is True and c["video"]["canPublishSources"] == ["microphone"]
    assert c["video"]["canPublishData"] is False and c["attributes"] == {"role": "host"}
    assert "roomAdmin" not in c["video"] and "roomCreate" not in c["video"]


def test_scheduled_spaces_open_their_room_on_start_and_carry_join_only_then(api, media):
    api.make_user("host", 1000)
    created = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Later", "scheduled_start": rfc3339_in(60)})
    assert created.json["join"] is None and media.calls_named("create_room") == []
    started = api.call("POST", f"/v1/spaces/{created.json['id']}/start", as_user="host")
    assert started.status_code == 200 and started.json["join"]["role"] == "host"
    assert media.calls_named("create_room") == [("create_room", created.json["id"])]


def test_a_listener_token_only_subscribes_with_a_short_ttl(api, space_id):
    before = datetime.now(UTC).replace(microsecond=0)
    res = join(api, space_id, "alice")
    assert res.status_code == 200
    body = res.json
    assert set(body) == {"transport", "livekit_url", "token", "role", "expires_at"}
    assert body["role"] == "listener" and body["transport"] == "webrtc"
    c = claims(body["token"])
    assert c["sub"] == "alice" and c["video"]["room"] == space_id
    assert c["video"]["canPublish"] is False and c["video"]["canSubscribe"] is True
    assert c["video"]["canPublishData"] is False and "canPublishSources" not in c["video"]
    assert c["video"]["hidden"] is True  # listeners join hidden (bench_scale's join storms)
    assert c["attributes"] == {"role": "listener"}
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=300) <= expires <= before + timedelta(seconds=302)
    assert c["exp"] >= int(expires.timestamp())  # the token never outlives what we announce


def test_stage_roles_join_with_the_microphone(api, space_id):
    assert api.call("PUT", f"/v1/spaces/{space_id}/speakers/bob", as_user="host").status_code == 200
    assert api.call("PUT", f"/v1/spaces/{space_id}/cohosts/carol", as_user="host").status_code == 200
    for user, role in (("host", "host"), ("bob", "speaker"), ("carol", "cohost")):
        body = join(api, space_id, user).json
        assert body["role"] == role
        video = claims(body["token"])["video"]
        assert video["canPublish"] is True and video["canPublishSources"] == ["microphone"]


def test_join_needs_auth_a_known_space_and_a_live_one(api, space_id):
    assert api.call("POST", f"/v1/spaces/{space_id}/join").status_code == 401
    missing = join(api, "sp_nope", "alice")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert join(api, "bad id!", "alice").status_code in (400, 404)
    api.make_user("host2", 1000)
    later = api.call("POST", "/v1/spaces", as_user="host2", body={"title": "Later", "scheduled_start": rfc3339_in(60)})
    res = join(api, later.json["id"], "alice")
    assert res.status_code == 409 and res.json["error"]["code"] == "invalid_state"
    api.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
    assert join(api, space_id, "alice").json["error"]["code"] == "invalid_state"


def test_ending_closes_the_room(api, media, space_id):
    media.connect(space_id, "alice", "listener")
    res = api.call("POST", f"/v1/spaces/{space_id}/end", as_user="host")
    assert res.status_code == 200 and res.json["state"] == "ended"
    assert media.calls_named("delete_room") == [("delete_room", space_id)]
    assert space_id not in media.rooms


class Gate:
    def __init__(self, paid: set[tuple[str, str]]) -> None:
        self.paid = paid
        self.asked: list[tuple[str, str]] = []

    def has_paid_ticket(self, space_id: str, user_id: str) -> bool:
        self.asked.append((space_id, user_id))
        return (space_id, user_id) in self.paid


def test_ticketed_spaces_ask_the_ticket_gate_for_listeners_only(api, media):
    from chalicelib.container import get_container
    from chalicelib.domain.spaces import SpaceState, Ticketing

    api.make_user("host", 1000)
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Paid"}).json["id"]
    c = get_container()
    space = c.space_repo.get(sid)
    c.table.update(keys.space_pk(sid), keys.META, UpdateExpression="SET ticket = :t",
                   ExpressionAttributeValues={":t": {"M": {"price_cents": {"N": "500"}, "currency": {"S": "usd"},
                                                           "quantity": {"N": "10"}, "sold": {"N": "1"}}}})
    assert space.state is SpaceState.live and c.space_repo.get(sid).ticket == Ticketing(
        price_cents=500, currency="usd", quantity=10, sold=1)
    gate = Gate({(sid, "payer")})
    c.joins.tickets = gate  # the join check asks this gate from now on
    api.call("PUT", f"/v1/spaces/{sid}/speakers/guest", as_user="host")
    assert join(api, sid, "payer").json["role"] == "listener"
    refused = join(api, sid, "freeloader")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "ticket_required"
    assert join(api, sid, "guest").json["role"] == "speaker"
    assert join(api, sid, "host").json["role"] == "host"
    assert gate.asked == [(sid, "payer"), (sid, "freeloader")]


def _space_items(sid: str) -> list[dict]:
    from chalicelib.container import get_container

    table = get_container().table
    page = table.client.query(TableName=table.name, ConsistentRead=True, KeyConditionExpression="PK = :pk",
                              ExpressionAttributeValues={":pk": {"S": keys.space_pk(sid)}})
    return page["Items"]


def test_an_unpaid_listener_cannot_raise_a_hand_or_react_and_nothing_is_stored_or_sent(api, media):
    from chalicelib.container import get_container

    api.make_user("host", 1000)
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Paid"}).json["id"]
    c = get_container()
    c.table.update(keys.space_pk(sid), keys.META, UpdateExpression="SET ticket = :t",
                   ExpressionAttributeValues={":t": {"M": {"price_cents": {"N": "500"}, "currency": {"S": "usd"},
                                                           "quantity": {"N": "10"}, "sold": {"N": "1"}}}})
    c.joins.tickets = Gate({(sid, "payer")})
    before, calls_before = _space_items(sid), list(media.calls)
    for rest, body in (("/speak-requests", None), ("/reactions", {"emoji": "🔥"})):
        refused = api.call("POST", f"/v1/spaces/{sid}{rest}", as_user="freeloader", body=body)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "ticket_required", rest
    assert _space_items(sid) == before
    assert media.calls == calls_before
    assert api.call("POST", f"/v1/spaces/{sid}/speak-requests", as_user="payer").status_code in (200, 201)
    assert api.call("POST", f"/v1/spaces/{sid}/reactions", as_user="payer", body={"emoji": "🔥"}).status_code in (200, 201)
    assert _space_items(sid) != before
