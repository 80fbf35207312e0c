"""Who may do what on a live Space's stage: roles, their media grants, caps and moderation.

Pure rules on plain models. Services read the Space and the member record, ask these functions,
and then make the conditional writes that keep caps exact under concurrency; when a write's
condition fails they read again and ask again, so the caller gets the precise reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.errors import Banned, Forbidden, InvalidState, NotFound, SpeakerLimit, field_error
from chalicelib.domain.spaces import MAX_COHOSTS, MAX_SPEAKERS, Space, SpaceState

RoleName = Literal["host", "cohost", "speaker", "listener"]


class Role(str, Enum):
    host = "host"
    cohost = "cohost"
    speaker = "speaker"
    listener = "listener"

    @property
    def publishes(self) -> bool:
        return self is not Role.listener

    @property
    def as_name(self) -> RoleName:
        """The role's name, typed as the contract's set of names."""
        return self.value


MICROPHONE = "microphone"


@dataclass(frozen=True)
class MediaGrant:
    """What a role may do on the media server. Every field is explicit: the server's permission
    update replaces the whole object, and its SDK defaults ``can_publish`` to true."""

    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    publish_sources: tuple[str, ...]
    can_update_metadata: bool = False
    hidden: bool = False


# Listeners join hidden: no participant update goes to every listener each time one joins or
# leaves (bench_scale's join storm); webhooks and the server's participant list still see them, so
# the roster and counts stay exact. Promotion unhides (the stage's grant is visible).
_LISTEN_ONLY = MediaGrant(can_publish=False, can_subscribe=True, can_publish_data=False, publish_sources=(),
                          hidden=True)
_MICROPHONE = MediaGrant(can_publish=True, can_subscribe=True, can_publish_data=False, publish_sources=(MICROPHONE,))


def media_grant(role: Role) -> MediaGrant:
    """Least privilege: listeners only subscribe; the stage publishes its microphone only. Nobody
    publishes data directly: reactions and notices go through the API (rate-limited, checked)."""
    return _MICROPHONE if role.publishes else _LISTEN_ONLY


# -- data messages ---------------------------------------------------------------------------
TOPIC_REACTIONS = "airwaves.reactions"
TOPIC_SPEAK_REQUESTS = "airwaves.speak_requests"

REACTION_EMOJIS: tuple[str, ...] = ("💯", "😂", "😮", "😢", "🔥", "👏", "❤️", "👋", "✌️", "🙏", "✊", "🤔")
REACTION_LIMIT = 10
REACTION_WINDOW_SECONDS = 10


def check_reaction(emoji: str) -> str:
    if emoji not in REACTION_EMOJIS:
        raise field_error("emoji", "must be one of " + " ".join(REACTION_EMOJIS))
    return emoji


def rate_window(now: datetime, seconds: int) -> int:
    """The start (epoch seconds) of the fixed window ``now`` falls in."""
    epoch = int(now.timestamp())
    return epoch - epoch % seconds


class StageChanged(Exception):
    """A role write found the Space or member no longer as read (a concurrent change, a full
    stage, a ban). Not an API error: the service reads again and the rules say what happened."""


# -- members ---------------------------------------------------------------------------------
class Member(BaseModel):
    """Someone's standing in one Space. Their role is read from the Space itself (its co-host and
    speaker sets), which is where the caps are enforced."""

    space_id: str
    user_id: str
    banned: bool = False
    banned_at: datetime | None = None  # when and by whom: the ban's identity in the moderation log
    banned_by: str | None = None
    hand_raised_at: datetime | None = None

    @property
    def hand_raised(self) -> bool:
        return self.hand_raised_at is not None


def role_of(space: Space, user_id: str) -> Role:
    return Role(space.role_of(user_id))


def with_role(space: Space, user_id: str, role: Role) -> Space:
    """The Space as it reads once ``user_id`` holds ``role`` (the host's role never moves)."""
    cohosts = [u for u in space.cohost_ids if u != user_id]
    speakers = [u for u in space.speaker_ids if u != user_id]
    if role is Role.cohost:
        cohosts.append(user_id)
    elif role is Role.speaker:
        speakers.append(user_id)
    return space.model_copy(update={"cohost_ids": sorted(cohosts), "speaker_ids": sorted(speakers)})


def _is_banned(member: Member | None) -> bool:
    return member is not None and member.banned


def require_live(space: Space) -> None:
    if space.state is not SpaceState.live:
        raise InvalidState(f"the Space is {space.state.value}, not live", details={"state": space.state.value})


def require_open(space: Space) -> None:
    """Roles can be arranged while a Space is scheduled or live, not after."""
    if space.state not in (SpaceState.live, SpaceState.scheduled):
        raise InvalidState(f"the Space is {space.state.value}", details={"state": space.state.value})


def require_moderator(space: Space, caller: str) -> None:
    if not space.can_moderate(caller):
        raise Forbidden("only the host or a co-host can do this")


def require_host(space: Space, caller: str) -> None:
    if caller != space.host_id:
        raise Forbidden("only the host can do this")


# -- joining ---------------------------------------------------------------------------------
def check_admission(space: Space, user_id: str, member: Member | None) -> Role:
    """Whether ``user_id`` may be in the live Space; their role if so."""
    require_live(space)
    if _is_banned(member):
        raise Banned("you were removed from this Space")
    return role_of(space, user_id)


def needs_ticket(space: Space, role: Role) -> bool:
    """Ticketed Spaces admit the host, co-hosts and invited speakers without a ticket."""
    return space.ticket is not None and role is Role.listener


# -- speak requests --------------------------------------------------------------------------
def check_raise_hand(space: Space, user_id: str, member: Member | None) -> None:
    role = check_admission(space, user_id, member)
    if role is not Role.listener:
        raise InvalidState(f"you are already a {role.value}; you can speak", details={"role": role.value})


def check_answer_request(space: Space, caller: str, member: Member | None) -> None:
    require_live(space)
    require_moderator(space, caller)
    if member is None or not member.hand_raised:
        raise NotFound("there is no pending speak request from this user")


# -- stage roles -----------------------------------------------------------------------------
def _check_grantable(space: Space, target: str, member: Member | None) -> None:
    require_open(space)
    if target == space.host_id:
        raise InvalidState("the host already speaks", details={"role": "host"})
    if _is_banned(member):
        raise Banned("that user was removed from this Space")


def check_grant_speaker(space: Space, caller: str, target: str, member: Member | None) -> None:
    """Invite (not yet in the room) or promote (listening) ``target`` to speak."""
    require_moderator(space, caller)
    _check_grantable(space, target, member)
    if target in space.cohost_ids:
        raise InvalidState("that user is a co-host and already speaks", details={"role": "cohost"})
    if target not in space.speaker_ids and len(space.speaker_ids) >= MAX_SPEAKERS:
        raise SpeakerLimit(f"a Space has at most {MAX_SPEAKERS} speakers besides the host and co-hosts",
                           details={"role": "speaker", "limit": MAX_SPEAKERS})


def check_revoke_speaker(space: Space, caller: str, target: str) -> None:
    """Back to listener: the host or a co-host may move anyone; a speaker may step down."""
    if caller != target:
        require_moderator(space, caller)
    require_open(space)


def check_grant_cohost(space: Space, caller: str, target: str, member: Member | None) -> None:
    require_host(space, caller)
    _check_grantable(space, target, member)
    if target not in space.cohost_ids and len(space.cohost_ids) >= MAX_COHOSTS:
        raise SpeakerLimit(f"a Space has at most {MAX_COHOSTS} co-hosts",
                           details={"role": "cohost", "limit": MAX_COHOSTS})


def check_revoke_cohost(space: Space, caller: str) -> None:
    require_host(space, caller)
    require_open(space)


# -- moderation ------------------------------------------------------------------------------
def check_moderate(space: Space, caller: str, target: str, *, action: str) -> None:
    """The host may act on anyone but themselves; a co-host on speakers and listeners only."""
    require_live(space)
    require_moderator(space, caller)
    if target == space.host_id:
        raise Forbidden(f"the host cannot be {action}")
    if caller != space.host_id and target in space.cohost_ids and target != caller:
        raise Forbidden(f"only the host can have a co-host {action}")


def check_mute(space: Space, caller: str, target: str) -> None:
    if caller == target:
        require_live(space)
        require_moderator(space, caller)
        return
    check_moderate(space, caller, target, action="muted")


def check_remove(space: Space, caller: str, target: str) -> None:
    if caller == target:
        raise InvalidState("you cannot remove yourself; leave the room instead")
    check_moderate(space, caller, target, action="removed")
