"""Request and response models of the HTTP contract (``../shared/API.md``).

These are the API's edge: field names are the contract's. The OpenAPI document is generated
from them, so a docstring or a ``Field(description=...)`` here is documentation too.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from chalicelib.domain.captions import CaptionEngine, CaptionStatus, caption_status
from chalicelib.domain.clock import to_rfc3339, utcnow
from chalicelib.domain.languages import LANGUAGE_MAX
from chalicelib.domain.media import HlsGrant, JoinGrant
from chalicelib.domain.recordings import PublicReplayState
from chalicelib.domain.roles import RoleName
from chalicelib.domain.spaces import TITLE_MAX, TOPIC_MAX_LEN, TOPICS_MAX, MediaOptions, Space, TicketOffer
from chalicelib.domain.text import VISIBLE_PATTERN
from chalicelib.domain.tickets import PRICE_MAX_CENTS, PRICE_MIN_CENTS, STRIPE_MINIMUM_MINOR_UNITS
from chalicelib.domain.users import Eligibility, User

if TYPE_CHECKING:  # only for the `.of` constructors; keeps the services off the cold path
    from chalicelib.services.health import DependencyState

Topic = Annotated[str, Field(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{TOPIC_MAX_LEN - 1}}}$",
                             description="a slug: letters, digits, '-' and '_' (kept in lower case)")]
UserId = Field(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$", description="An opaque user id (the JWT `sub`).")


def at_least_one_of(*names: str) -> dict[str, Any]:
    """JSON schema: at least one of ``names`` is given and not null (the model refuses otherwise)."""
    return {"anyOf": [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]}


def free_text(max_length: int, description: str, *, refused: str | None = None, **extra: Any) -> Any:
    """A field people type: 1 to ``max_length`` characters as sent, a letter, digit or emoji among
    them (``domain.text.VISIBLE_PATTERN``) and, with ``refused``, none of those characters (the
    domain refuses them; it removes other invisible characters and collapses spaces)."""
    if refused:
        extra["json_schema_extra"] = {"not": {"type": "string", "pattern": refused}}
    return Field(min_length=1, max_length=max_length, pattern=VISIBLE_PATTERN,
                 description=f"{description}: 1 to {max_length} characters with a letter, digit or emoji", **extra)


def _integral(value: Any) -> Any:
    """JSON Schema counts ``316.0`` as an integer; so does the API (strict mode alone would not)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_integral)]


class Request(BaseModel):
    """A JSON body: exactly what the OpenAPI document says (no coercion of ``0`` to ``false`` or
    of ``"5"`` to 5, no unknown fields, values as sent), so the document and the check agree."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class Query(BaseModel):
    """A query string: every value arrives as text, so numbers and booleans are parsed from it."""

    model_config = ConfigDict(extra="ignore", regex_engine="python-re")


class Out(BaseModel):
    @field_serializer("*", when_used="json", check_fields=False)
    def _times(self, value: Any) -> Any:
        return to_rfc3339(value) if isinstance(value, datetime) else value


# -- errors ----------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case machine code, e.g. `validation_error`")
    message: str
    details: Any = Field(default=None, description="for `validation_error`: `[{field, message}]`")


class ErrorOut(BaseModel):
    error: ErrorDetail


# -- dev tokens ------------------------------------------------------------------------------
class DevTokenIn(Request):
    user_id: str = UserId
    admin: bool = False


class DevTokenOut(Out):
    token: str
    expires_at: datetime


# -- users -----------------------------------------------------------------------------------
class UserUpsertIn(Request):
    handle: str = Field(pattern=r"^[A-Za-z0-9_]{1,30}$")
    display_name: str = free_text(50, "the name shown")
    follower_count: Annotated[int, Field(ge=0, le=10_000_000_000), BeforeValidator(_integral)] | None = None
    birthdate: date | None = None
    protected: bool | None = Field(default=None, description="protected accounts cannot host")
    suspended: bool | None = Field(default=None, description="suspended accounts cannot host")


class UserOut(Out):
    id: str
    handle: str
    display_name: str
    follower_count: int
    following_count: int

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, handle=user.handle, display_name=user.display_name,
                   follower_count=user.follower_count, following_count=user.following_count)


class UserPage(Out):
    items: list[UserOut]
    next_cursor: str | None


class FollowOut(Out):
    user_id: str
    following: bool


class EligibilityOut(Out):
    can_host: bool
    can_host_ticketed: bool
    follower_count: int
    required_followers: int
    reasons: list[str] = Field(description="why the caller cannot host (empty when they can): "
                               "`not_enough_followers`, `account_protected`, `account_suspended`")
    ticketed_reasons: list[str] = Field(description="why the caller cannot host ticketed Spaces")

    @classmethod
    def of(cls, e: Eligibility) -> EligibilityOut:
        return cls(can_host=e.can_host, can_host_ticketed=e.can_host_ticketed, follower_count=e.follower_count,
                   required_followers=e.required_followers, reasons=e.reasons, ticketed_reasons=e.ticketed_reasons)


# -- spaces ----------------------------------------------------------------------------------
CURRENCIES = tuple(sorted(STRIPE_MINIMUM_MINOR_UNITS))


def _ticket_schema(schema: dict[str, Any]) -> None:
    """Each currency's lowest price (Stripe's minimum charge, at least ``PRICE_MIN_CENTS``) and this
    stage's most seats, as ``domain.tickets.check_ticket_offer`` applies them."""
    from chalicelib.settings import get_settings

    schema["properties"]["quantity"]["maximum"] = get_settings().max_ticket_quantity
    schema["allOf"] = [{"if": {"properties": {"currency": {"const": c}}},
                        "then": {"properties": {"price_cents": {"minimum": max(PRICE_MIN_CENTS, low)}}}}
                       for c, low in sorted(STRIPE_MINIMUM_MINOR_UNITS.items())]


class TicketIn(Request):
    model_config = ConfigDict(json_schema_extra=_ticket_schema)

    price_cents: Integer = Field(ge=0, le=PRICE_MAX_CENTS)
    currency: Literal[CURRENCIES] = Field(description="ISO 4217, lower case")  # type: ignore[valid-type]
    quantity: Integer = Field(ge=1)

    def offer(self) -> TicketOffer:
        return TicketOffer(self.price_cents, self.currency, self.quantity)


class SpaceCreateIn(Request):
    model_config = ConfigDict(json_schema_extra={  # a ticketed Space must be scheduled
        "if": {"required": ["ticket"], "properties": {"ticket": {"not": {"type": "null"}}}},
        "then": {"required": ["scheduled_start"], "properties": {"scheduled_start": {"not": {"type": "null"}}}}})

    title: str = free_text(TITLE_MAX, "the title")
    topics: list[Topic] = Field(default_factory=list, max_length=TOPICS_MAX, description=f"at most {TOPICS_MAX}")
    scheduled_start: AwareDatetime | None = Field(default=None, description="absent: start now (state `live`)")
    ticket: TicketIn | None = None
    recording: bool = Field(default=False, description="record the stage (replay and download)")
    captions: bool = Field(default=True, description="transcribe the stage live (captions, transcript)")
    clips_enabled: bool = Field(default=True, description="listeners may clip the last seconds while live")
    language: str | None = Field(default=None, max_length=LANGUAGE_MAX,
                                 description="what the stage speaks, a BCP 47 tag (`en`, `pt-BR`); absent: the "
                                             "stage's default, `en`. Captions are transcribed in it")

    def options(self) -> MediaOptions:
        return MediaOptions(recording=self.recording, captions=self.captions, clips_enabled=self.clips_enabled,
                            language=self.language)


class SpacePatchIn(Request):
    model_config = ConfigDict(json_schema_extra=at_least_one_of(
        "title", "topics", "scheduled_start", "recording", "captions", "clips_enabled", "language"))

    title: str | None = free_text(TITLE_MAX, "scheduled Spaces only", default=None)
    topics: list[Topic] | None = Field(default=None, max_length=TOPICS_MAX, description="scheduled Spaces only")
    scheduled_start: AwareDatetime | None = Field(default=None, description="scheduled Spaces only")
    recording: bool | None = Field(default=None, description="also while live: start or stop recording")
    captions: bool | None = Field(default=None, examples=[False], description="also while live")
    clips_enabled: bool | None = Field(default=None, description="also while live")
    language: str | None = Field(default=None, max_length=LANGUAGE_MAX,
                                 description="BCP 47; also while live (captions follow from the next utterance)")

    @model_validator(mode="after")
    def _something(self) -> SpacePatchIn:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("give at least one of title, topics, scheduled_start, recording, captions, "
                             "clips_enabled, language")
        return self

    def options(self) -> MediaOptions:
        return MediaOptions(recording=self.recording, captions=self.captions, clips_enabled=self.clips_enabled,
                            language=self.language)


class TicketOut(Out):
    price_cents: int
    currency: str
    quantity: int
    sold: int


class JoinOut(Out):
    model_config = ConfigDict(json_schema_extra={"description": "Credentials to connect to the room over WebRTC."})

    transport: Literal["webrtc"] = Field(default="webrtc", description="how to listen: WebRTC through LiveKit")
    livekit_url: str
    token: str
    role: RoleName
    expires_at: datetime = Field(description="connect before this (the token's lifetime)")

    @classmethod
    def of(cls, grant: JoinGrant) -> JoinOut:
        return cls(livekit_url=grant.livekit_url, token=grant.token, role=grant.role, expires_at=grant.expires_at)


class HlsJoinOut(Out):
    model_config = ConfigDict(json_schema_extra={
        "description": "The Space's WebRTC audience is at its cap: listen to the live stage as HLS."})

    transport: Literal["hls"] = "hls"
    hls_url: str = Field(description="a live HLS playlist (signed link; no Authorization header needed). Players "
                                     "reload it; it ends (EXT-X-ENDLIST) when the Space ends. A path on the API "
                                     "when the API has no public base URL configured")
    role: Literal["listener"] = "listener"
    expires_at: datetime = Field(description="the link stops working then: join again for a fresh link (or WebRTC "
                                             "if a seat is free). Promoted to the stage, join again for WebRTC")

    @classmethod
    def of(cls, grant: HlsGrant) -> HlsJoinOut:
        return cls(hls_url=grant.hls_url, expires_at=grant.expires_at)


class JoinAnswerOut(RootModel[Annotated[JoinOut | HlsJoinOut, Field(discriminator="transport")]]):
    """What ``POST /v1/spaces/{id}/join`` answers: WebRTC credentials, or HLS past the WebRTC cap."""

    @classmethod
    def of(cls, grant: JoinGrant | HlsGrant) -> JoinAnswerOut:
        return cls(HlsJoinOut.of(grant) if isinstance(grant, HlsGrant) else JoinOut.of(grant))


class PinOut(Out):
    text: str | None
    url: str | None = Field(description="an http(s) URL; render it escaped")
    pinned_by: str
    pinned_at: datetime


class ReplaySummaryOut(Out):
    state: PublicReplayState = Field(description="`processing` while recording and until the worker finalizes it")
    duration_seconds: float
    expires_at: datetime | None = Field(description="when the replay goes away (set once the Space has ended)")

    @classmethod
    def of_space(cls, space: Space) -> ReplaySummaryOut | None:
        replay = space.replay
        if replay is None or not replay.visible(utcnow()):
            return None
        return cls(state=replay.public_state(), duration_seconds=replay.duration_seconds, expires_at=replay.expires_at)


class SpaceOut(Out):
    id: str
    host_id: str
    cohost_ids: list[str]
    speaker_ids: list[str]
    title: str
    topics: list[str]
    state: Literal["scheduled", "live", "ended", "canceled"]
    scheduled_start: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    listener_count: int = Field(description="everyone listening: connections to the room (exact, from the media "
                                            "server) plus HLS listeners (approximate: see hls_listener_count)")
    hls_listener_count: int = Field(default=0, description="listeners over HLS past the WebRTC cap, approximate: "
                                                          "distinct HLS listeners who fetched the live playlist in "
                                                          "the last 30-60 s")
    peak_listener_count: int = Field(description="the most connections to the room at once (WebRTC, exact)")
    ticket: TicketOut | None
    recording: bool
    pinned: PinOut | None = Field(default=None, description="what the host or a co-host pinned (null: nothing); "
                                                            "changes are told on the data topic airwaves.pin")
    captions: bool
    clips_enabled: bool
    language: str = Field(description="BCP 47, canonical form (`en-US`, not `en_us`)")
    captions_status: CaptionStatus = Field(
        description="`on`: captions are published; `off`: the host turned them off; `unsupported_language`: the "
                    "caption engine cannot transcribe `language`, so none are published (rather than wrong ones); "
                    "`unavailable`: this stage runs no caption engine")
    replay: ReplaySummaryOut | None = Field(default=None, description="the recording, once there is one")
    subscriber_count: int = Field(description="reminders set plus tickets sold")
    join: JoinOut | None = Field(default=None, description="the host's credentials, on a live Space's create")

    @classmethod
    def of(cls, space: Space, *, engine: CaptionEngine | None, join: JoinGrant | None = None) -> SpaceOut:
        """``engine``: the caption engine's last report (``CaptionEngines.current()``)."""
        data = space.model_dump(exclude={"created_at", "updated_at", "replay", "webrtc_seats", "hls_live",
                                         "hls_windows", "seats_swept_at"})
        data["state"] = space.state.value
        now = utcnow()
        data["listener_count"] = space.audience_count(now)
        data["hls_listener_count"] = space.hls_listener_count(now)
        return cls(**data, join=JoinOut.of(join) if join else None, replay=ReplaySummaryOut.of_space(space),
                   captions_status=caption_status(captions=space.captions, language=space.language, engine=engine))


class SpaceListQuery(Query):
    state: Literal["live", "scheduled"] = "live"
    following: bool = False

    @field_validator("following")
    @classmethod
    def _only_live_by_following(cls, following: bool, info: ValidationInfo) -> bool:
        if following and info.data.get("state") != "live":
            raise ValueError("only live Spaces can be listed by who you follow (state=live)")
        return following
    topic: str | None = Field(default=None, max_length=32)
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=50)


class LiveHlsQuery(Query):
    token: str = Field(min_length=1, max_length=1024, description="the signed link's token, as the join answered it")


class PageQuery(Query):
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=100)


class SpacePage(Out):
    items: list[SpaceOut]
    next_cursor: str | None


# -- operations ------------------------------------------------------------------------------
class DependencyHealth(Out):
    status: Literal["ok", "down", "not_configured"]
    latency_ms: float | None = None
    detail: str | None = None


class LivenessOut(Out):
    status: Literal["ok"]
    stage: str


class CaptionEngineOut(Out):
    engine: str = Field(description="`embedded` (offline pocketsphinx), `transcribe` (AWS Transcribe streaming), "
                                    "`scripted` (tests) or `none`")
    languages: list[str] | None = Field(description="what it transcribes (by primary language: `en` serves `en-GB`); "
                                                     "null: any")
    reported_at: datetime = Field(description="when a media worker last reported it")


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    stage: str
    dependencies: dict[str, DependencyHealth]
    checked_seconds_ago: float = Field(0.0, description="age of this deep check (0: run for this request)")
    captions: CaptionEngineOut | None = Field(default=None, description="the media worker's caption engine, as last "
                                              "reported (null: no worker has reported yet); a Space whose language "
                                              "is not in `languages` gets no captions")

    @classmethod
    def of(cls, states: dict[str, DependencyState], *, stage: str, age: float = 0.0,
           engine: CaptionEngine | None = None) -> HealthOut:
        deps = {name: DependencyHealth(status=s.status, latency_ms=s.latency_ms, detail=s.detail)
                for name, s in states.items()}
        ok = all(d.status != "down" for d in deps.values())
        captions = (CaptionEngineOut(engine=engine.name, languages=engine.languages, reported_at=engine.reported_at)
                    if engine else None)
        return cls(status="ok" if ok else "degraded", stage=stage, dependencies=deps,
                   checked_seconds_ago=round(age, 1), captions=captions)
