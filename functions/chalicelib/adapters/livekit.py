"""The media server adapter: LiveKit join tokens, rooms, live permissions and webhooks.

The SDK (``livekit-api``) is imported inside the methods that use it, so routes that never
touch media do not pay for it on a cold start. Its server API client is asyncio-based; our
handlers are synchronous, so calls run on one private event loop thread per process (which also
keeps the HTTP connection pool warm across invocations). Every failure to reach LiveKit, or a
refusal, becomes ``UpstreamUnavailable`` (503); "that participant is not connected" answers
False/None instead, because for us it only means the change takes effect at the next join.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from chalicelib.domain.errors import Unauthenticated, UpstreamUnavailable, ValidationFailed
from chalicelib.domain.media import MediaEvent, MediaParticipant
from chalicelib.domain.pages import JsonObject
from chalicelib.domain.roles import MediaGrant, Role, media_grant
from chalicelib.ports import SecretReader
from chalicelib.settings import Settings

T = TypeVar("T")


class _LoopThread:
    """One daemon thread running an event loop, shared by every adapter in the process, with one
    server API client (and so one connection pool) per server and key."""

    _lock = threading.Lock()
    _instance: _LoopThread | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clients: dict[tuple[str, str, str, float], Any] = {}
        threading.Thread(target=self.loop.run_forever, name="livekit-api", daemon=True).start()
        atexit.register(self.close)

    @classmethod
    def get(cls) -> _LoopThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def client(self, url: str, key: str, secret: str, timeout: float) -> Any:
        """The server API client for these settings (called on the loop: aiohttp needs one)."""
        ident = (url, key, secret, timeout)
        if ident not in self.clients:
            import aiohttp

            from livekit import api

            self.clients[ident] = api.LiveKitAPI(url, key, secret, failover=False,
                                                 timeout=aiohttp.ClientTimeout(total=timeout))
        return self.clients[ident]

    def close(self) -> None:
        async def close_all() -> None:
            for client in self.clients.values():
                await client.aclose()

        if self.clients and self.loop.is_running():
            try:
                self.run(close_all(), 2)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass


def _http_url(url: str) -> str:
    if url.startswith("ws"):
        return "http" + url[2:]
    return url


_RAISE = object()


async def _done(call: Awaitable[Any]) -> bool:
    await call
    return True


def _not_found(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 404 or getattr(exc, "code", None) == "not_found"


class LiveKitMedia:
    """``MediaServer`` on a self-hosted LiveKit."""

    def __init__(self, secrets: SecretReader, *, client_url: str, api_url: str, token_ttl: timedelta,
                 empty_timeout: int, departure_timeout: int, api_timeout: float = 5.0) -> None:
        """Keys are read from ``secrets`` at each use, so a rotation reaches warm containers with
        the secrets cache (the stack's secret gets a field for each name read through it)."""
        self._client_url = client_url
        self.api_url = _http_url(api_url or client_url)
        self._secrets = secrets
        self.token_ttl = token_ttl
        self.empty_timeout = empty_timeout
        self.departure_timeout = departure_timeout
        self.api_timeout = api_timeout

    @classmethod
    def from_settings(cls, settings: Settings, secrets: SecretReader) -> LiveKitMedia:
        return cls(secrets, client_url=settings.livekit_url, api_url=settings.livekit_api_url,
                   token_ttl=timedelta(seconds=settings.livekit_token_ttl_seconds),
                   empty_timeout=settings.livekit_empty_timeout_seconds,
                   departure_timeout=settings.livekit_departure_timeout_seconds,
                   api_timeout=settings.livekit_api_timeout_seconds)

    def _pair(self) -> tuple[str, str]:
        """The current key and its secret, read as a pair: a rotation changes the key name, so
        a key that changed between the two reads means the secret cache was refreshed; read again."""
        secrets = self._secrets
        key, secret = secrets.get_secret("livekit_api_key"), secrets.get_secret("livekit_api_secret")
        if secrets.get_secret("livekit_api_key") != key:
            key, secret = secrets.get_secret("livekit_api_key"), secrets.get_secret("livekit_api_secret")
        return key, secret

    @property
    def client_url(self) -> str:
        return self._client_url

    def webhook_keys(self) -> dict[str, str]:
        """API key -> secret of every pair a genuine webhook may be signed with: the current pair
        and, during a rotation (``infra/put_secrets.py``), the previous pair (nodes not yet refreshed
        after ``promote`` still sign with it) and the next pair (nodes refreshed after ``promote``
        sign with it while this container's cached secret still calls it "next")."""
        secrets = self._secrets
        pairs = [self._pair(),
                 (secrets.get_secret("livekit_previous_api_key"), secrets.get_secret("livekit_previous_api_secret")),
                 (secrets.get_secret("livekit_next_api_key"), secrets.get_secret("livekit_next_api_secret"))]
        keys: dict[str, str] = {}
        for key, secret in pairs:
            if key and secret:
                keys.setdefault(key, secret)
        return keys

    @property
    def configured(self) -> bool:
        return all(self._pair())

    def _require_keys(self) -> None:
        if not self.configured:
            raise UpstreamUnavailable("the media server is not configured (LiveKit API key and secret)")

    # -- tokens ------------------------------------------------------------------------------
    def join_token(self, space_id: str, user_id: str, role: str) -> tuple[str, datetime]:
        """A short-lived token for ``user_id`` to join room ``space_id`` with ``role``'s grants.

        ``expires_at`` is computed before signing and floored to the second, so it is never later
        than the token's own ``exp``."""
        self._require_keys()
        from livekit import api

        now = datetime.now(UTC).replace(microsecond=0)
        g = media_grant(Role(role))
        grants = api.VideoGrants(
            room_join=True, room=space_id, can_subscribe=g.can_subscribe,
            can_publish=g.can_publish,  # explicit: the SDK defaults it to True
            can_publish_data=g.can_publish_data,
            can_publish_sources=list(g.publish_sources) if g.can_publish else None,
            can_update_own_metadata=g.can_update_metadata, hidden=g.hidden,
        )
        token = (api.AccessToken(*self._pair()).with_identity(user_id).with_grants(grants)
                 .with_attributes({"role": role}).with_ttl(self.token_ttl).to_jwt())
        return token, now + self.token_ttl

    # -- server API --------------------------------------------------------------------------
    def _call(self, what: str, make: Callable[[Any], Awaitable[T]], *, if_missing: Any = _RAISE,
              service: str = "room") -> T:
        """Run one server API call on the shared loop. "Not found" answers ``if_missing`` when
        given; any other refusal or a transport failure is ``UpstreamUnavailable``. ``service``
        names the SDK's service client (``room``, ``agent_dispatch``)."""
        self._require_keys()
        from livekit import api

        runner = _LoopThread.get()

        async def attempt() -> T:
            import aiohttp

            client = runner.client(self.api_url, *self._pair(), self.api_timeout)
            try:
                return await make(getattr(client, service))
            except aiohttp.ServerDisconnectedError:  # a stale pooled connection: one retry
                return await make(getattr(client, service))

        try:
            return runner.run(attempt(), self.api_timeout + 1)
        except api.ServerError as exc:
            if _not_found(exc) and if_missing is not _RAISE:
                missing: T = if_missing
                return missing
            raise UpstreamUnavailable(f"the media server refused to {what}",
                                      details={"upstream": "livekit", "code": exc.code}) from exc
        except Exception as exc:
            raise UpstreamUnavailable(f"the media server cannot be reached to {what}",
                                      details={"upstream": "livekit"}) from exc

    def create_room(self, space_id: str) -> None:
        from livekit import api

        req = api.CreateRoomRequest(name=space_id, empty_timeout=self.empty_timeout,
                                    departure_timeout=self.departure_timeout)
        self._call("open the room", lambda room: room.create_room(req))

    def delete_room(self, space_id: str) -> None:
        """Close the room and disconnect everyone; a room already gone is fine."""
        from livekit import api

        self._call("close the room", lambda room: room.delete_room(api.DeleteRoomRequest(room=space_id)),
                   if_missing=None)

    def set_role(self, space_id: str, user_id: str, role: str) -> bool:
        """Apply ``role`` to a live connection (False: not connected). The permission object is
        replaced whole, so every field is sent; revoking publish makes the server unpublish."""
        from livekit import api

        req = api.UpdateParticipantRequest(room=space_id, identity=user_id,
                                           permission=self.permission(media_grant(Role(role))),
                                           attributes={"role": role})
        return self._call("change the participant's role", lambda room: _done(room.update_participant(req)),
                          if_missing=False)

    @staticmethod
    def permission(grant: MediaGrant) -> Any:
        from livekit import api

        sources = {"microphone": api.TrackSource.MICROPHONE}
        return api.ParticipantPermission(
            can_subscribe=grant.can_subscribe, can_publish=grant.can_publish,
            can_publish_data=grant.can_publish_data,
            can_publish_sources=[sources[s] for s in grant.publish_sources],
            hidden=grant.hidden, recorder=False, can_update_metadata=grant.can_update_metadata,
            agent=False, can_subscribe_metrics=False, can_manage_agent_session=False,
        )

    def remove_participant(self, space_id: str, user_id: str) -> bool:
        from livekit import api

        req = api.RoomParticipantIdentity(room=space_id, identity=user_id)
        return self._call("remove the participant", lambda room: _done(room.remove_participant(req)),
                          if_missing=False)

    def microphones(self, space_id: str, user_id: str) -> dict[str, bool] | None:
        """The participant's published microphone tracks, sid -> muted. None: not connected."""
        from livekit import api

        async def read(room: Any) -> dict[str, bool]:
            info = await room.get_participant(api.RoomParticipantIdentity(room=space_id, identity=user_id))
            return {t.sid: bool(t.muted) for t in info.tracks if t.source == api.TrackSource.MICROPHONE}

        return self._call("read the participant", read, if_missing=None)

    def mute_track(self, space_id: str, user_id: str, track_sid: str) -> bool:
        """Mute one published track server-side (its media stops reaching anyone; the client
        cannot unmute it: ``enable_remote_unmute`` is off). False: not there any more."""
        from livekit import api

        req = api.MuteRoomTrackRequest(room=space_id, identity=user_id, track_sid=track_sid, muted=True)
        return self._call("mute the track", lambda room: _done(room.mute_published_track(req)), if_missing=False)

    def send_data(self, space_id: str, topic: str, payload: JsonObject, to: Sequence[str] | None = None) -> None:
        """A reliable data message on ``topic`` to everyone in the room (or just ``to``)."""
        from livekit import api

        req = api.SendDataRequest(room=space_id, data=json.dumps(payload, ensure_ascii=False).encode(),
                                  kind=api.DataPacket.Kind.RELIABLE, topic=topic,
                                  destination_identities=list(to or []))
        self._call("deliver the message", lambda room: room.send_data(req))

    def participants(self, space_id: str) -> list[MediaParticipant]:
        from livekit import api

        out = self._call("list participants",
                         lambda room: room.list_participants(api.ListParticipantsRequest(room=space_id)),
                         if_missing=None)
        people: list[MediaParticipant] = []
        if out is None:
            return people
        for p in out.participants:
            if p.kind != api.ParticipantInfo.Kind.STANDARD:
                continue
            mics = [t for t in p.tracks if t.source == api.TrackSource.MICROPHONE]
            people.append(MediaParticipant(
                identity=p.identity, sid=p.sid, role=p.attributes.get("role"), publishing=bool(mics),
                muted=all(t.muted for t in mics),
                joined_at=datetime.fromtimestamp(p.joined_at, UTC) if p.joined_at else None))
        return people

    def dispatch_agent(self, space_id: str, agent_name: str, metadata: JsonObject) -> bool:
        """Explicit agent dispatch to the room (``AgentDispatchService``), unless one of
        ``agent_name`` is there already: listing first keeps repeated go-live and option changes
        from stacking workers in one room."""
        from livekit import api

        async def dispatch(service: Any) -> bool:
            existing = await service.list_dispatch(room_name=space_id)
            if any(d.agent_name == agent_name for d in existing):
                return False
            await service.create_dispatch(api.CreateAgentDispatchRequest(
                agent_name=agent_name, room=space_id, metadata=json.dumps(metadata, ensure_ascii=False)))
            return True

        return self._call("dispatch the media worker", dispatch, service="agent_dispatch")

    def ping(self) -> None:
        from livekit import api

        self._call("answer a health check",
                   lambda room: room.list_rooms(api.ListRoomsRequest(names=["airwaves-health-probe"])))

    # -- webhooks ----------------------------------------------------------------------------
    def verify_webhook(self, body: bytes, authorization: str | None) -> MediaEvent:
        """Check LiveKit's signed token (issuer = one of our API keys, HMAC with that key's
        secret, body hash) against the raw body, then read the event. The secret is chosen by the
        token's issuer, so a rotation costs no second verification and an unknown key fails fast."""
        self._require_keys()
        if not authorization:
            raise Unauthenticated("the webhook carries no signature (Authorization header)")
        import jwt
        from google.protobuf.json_format import ParseError

        from livekit import api

        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("the webhook body is not UTF-8 text") from exc
        token = authorization.removeprefix("Bearer ").strip()
        try:  # only to pick the key; the signature is checked below with that key's secret
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the webhook signature is not valid") from exc
        secret = self.webhook_keys().get(issuer) if isinstance(issuer, str) else None
        if not secret:
            raise Unauthenticated("the webhook is signed with an API key this server does not hold")
        receiver = api.WebhookReceiver(api.TokenVerifier(issuer, secret))
        try:
            event = receiver.receive(text, token)
        except ParseError as exc:
            raise ValidationFailed("the webhook body is not a LiveKit event") from exc
        except Exception as exc:
            raise Unauthenticated("the webhook signature is not valid") from exc
        p = event.participant
        kinds = {api.TrackType.AUDIO: "audio", api.TrackType.VIDEO: "video", api.TrackType.DATA: "data"}
        track = event.track if event.HasField("track") else None
        return MediaEvent(
            id=event.id, kind=event.event, room=event.room.name, identity=p.identity, sid=p.sid,
            standard=p.kind == api.ParticipantInfo.Kind.STANDARD, role=p.attributes.get("role") or None,
            at=datetime.fromtimestamp(event.created_at, UTC) if event.created_at else None,
            track_sid=track.sid if track else "", track_kind=kinds.get(track.type, "other") if track else "",
        )
