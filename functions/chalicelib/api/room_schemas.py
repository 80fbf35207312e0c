"""Request and response models of "Joining and roles" and the LiveKit webhook."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from chalicelib.api.schemas import Out, Request
from chalicelib.domain.clock import utcnow
from chalicelib.domain.media import MediaParticipant
from chalicelib.domain.roles import MICROPHONE, REACTION_EMOJIS, Member, RoleName
from chalicelib.domain.spaces import MAX_COHOSTS, MAX_SPEAKERS

if TYPE_CHECKING:  # only for the `.of` constructors; keeps the services off the cold path
    from chalicelib.services.moderation import MuteResult, Removal
    from chalicelib.services.participants import StageView
    from chalicelib.services.reactions import Reaction
    from chalicelib.services.stage import RoleChange

class SpeakRequestOut(Out):
    space_id: str
    user_id: str
    requested_at: datetime

    @classmethod
    def of(cls, member: Member) -> SpeakRequestOut:
        assert member.hand_raised_at is not None
        return cls(space_id=member.space_id, user_id=member.user_id, requested_at=member.hand_raised_at)


class SpeakRequestPage(Out):
    items: list[SpeakRequestOut] = Field(description="raised hands, oldest first")
    next_cursor: str | None


class HandOut(Out):
    space_id: str
    user_id: str
    hand_raised: bool


class DenialOut(Out):
    space_id: str
    user_id: str
    status: Literal["denied"] = "denied"


class RoleOut(Out):
    space_id: str
    user_id: str
    role: RoleName
    previous_role: RoleName
    changed: bool = Field(description="false when the user already held this role")
    live: bool = Field(description="applied to the user's open connection now; false when they are not "
                                   "connected (the role applies when they join)")

    @classmethod
    def of(cls, change: RoleChange) -> RoleOut:
        return cls(space_id=change.space_id, user_id=change.user_id, role=change.role.value,
                   previous_role=change.previous_role.value, changed=change.changed, live=change.live)


class MuteOut(Out):
    space_id: str
    user_id: str
    connected: bool
    muted: bool = Field(description="a published microphone was muted; false when none was published")

    @classmethod
    def of(cls, r: MuteResult) -> MuteOut:
        return cls(space_id=r.space_id, user_id=r.user_id, connected=r.connected, muted=r.muted)


class RemovalOut(Out):
    space_id: str
    user_id: str
    banned: bool = True
    disconnected: bool = Field(description="was connected and has been disconnected")

    @classmethod
    def of(cls, r: Removal) -> RemovalOut:
        return cls(space_id=r.space_id, user_id=r.user_id, disconnected=r.disconnected)


class ReactionIn(Request):
    emoji: Literal[REACTION_EMOJIS] = Field(examples=[REACTION_EMOJIS[0]],  # type: ignore[valid-type]
                                            description="one of: " + " ".join(REACTION_EMOJIS))


class ReactionOut(Out):
    space_id: str
    user_id: str
    emoji: str
    sent_at: datetime

    @classmethod
    def of(cls, r: Reaction) -> ReactionOut:
        return cls(space_id=r.space_id, user_id=r.user_id, emoji=r.emoji, sent_at=r.sent_at)


class ParticipantOut(Out):
    user_id: str
    role: RoleName
    connected: bool
    publishing: bool = Field(description="has a published microphone")
    muted: bool = Field(description="the microphone is muted or not published")


class ParticipantsOut(Out):
    model_config = ConfigDict(json_schema_extra={"description": "The stage, who is connected, and counts."})

    space_id: str
    state: Literal["scheduled", "live", "ended", "canceled"]
    host: ParticipantOut
    cohosts: list[ParticipantOut]
    speakers: list[ParticipantOut]
    listeners: list[ParticipantOut] = Field(description="connected listeners, in id order (at most 200)")
    listeners_truncated: bool
    speak_requests: list[SpeakRequestOut] | None = Field(
        description="pending raised hands, oldest first; null unless the caller is the host or a co-host")
    listener_count: int = Field(description="everyone listening: connections to the room right now (exact) plus "
                                            "HLS listeners (approximate: hls_listener_count)")
    hls_listener_count: int = Field(default=0, description="listeners over HLS past the WebRTC cap: distinct HLS "
                                                          "listeners who fetched the live playlist in the last 30-60 s")
    peak_listener_count: int
    speaker_limit: int = MAX_SPEAKERS
    cohost_limit: int = MAX_COHOSTS
    publish_source: str = MICROPHONE

    @classmethod
    def of(cls, view: StageView, listeners_shown: int = 200) -> ParticipantsOut:
        space, connected = view.space, view.connected
        now = utcnow()

        def person(user_id: str, role: RoleName) -> ParticipantOut:
            p = connected.get(user_id)
            return ParticipantOut(user_id=user_id, role=role, connected=p is not None,
                                  publishing=bool(p and p.publishing), muted=not (p and p.publishing and not p.muted))

        stage = {space.host_id, *space.cohost_ids, *space.speaker_ids}
        audience: list[MediaParticipant] = sorted((p for p in connected.values() if p.identity not in stage),
                                                  key=lambda p: p.identity)
        return cls(
            space_id=space.id, state=space.state.value, host=person(space.host_id, "host"),
            cohosts=[person(u, "cohost") for u in space.cohost_ids],
            speakers=[person(u, "speaker") for u in space.speaker_ids],
            listeners=[person(p.identity, "listener") for p in audience[:listeners_shown]],
            listeners_truncated=len(audience) > listeners_shown,
            speak_requests=None if view.hands is None else [SpeakRequestOut.of(m) for m in view.hands],
            listener_count=space.audience_count(now), hls_listener_count=space.hls_listener_count(now),
            peak_listener_count=space.peak_listener_count,
        )


class WebhookAckOut(Out):
    received: bool = True
    outcome: str = Field(description="what the event changed: counted, uncounted, duplicate, ended, "
                                     "removed, role_corrected or ignored")
