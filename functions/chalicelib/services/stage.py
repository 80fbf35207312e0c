"""The stage of a Space: raised hands, speakers and co-hosts, applied to the open connection.

A role change is stored and applied to the media server at once. The order keeps the media
server from ever granting more than the database records: a grant of the microphone is stored
first (which also claims the seat under the cap) and then applied; a revocation is applied first
and then stored. If the second step fails, the first is undone, and a media failure answers 503
``upstream_unavailable`` with both sides as they were.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import InvalidState, NotFound, RateLimited, UpstreamUnavailable
from chalicelib.domain.pages import JsonObject, Page, PageRequest
from chalicelib.domain.roles import (
    TOPIC_SPEAK_REQUESTS,
    Member,
    Role,
    StageChanged,
    check_answer_request,
    check_grant_cohost,
    check_grant_speaker,
    check_raise_hand,
    check_revoke_cohost,
    check_revoke_speaker,
    rate_window,
    require_moderator,
    role_of,
    with_role,
)
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import MediaServer, MemberRepository, RateLimiter, SpaceRepository
from chalicelib.services.joins import JoinService
from chalicelib.services.lifecycle import SpaceLifecycle

log = logging.getLogger(__name__)
_ATTEMPTS = 3

Rule = Callable[[Space, Member | None], None]  # a role rule re-checked on each attempt


@dataclass(frozen=True)
class RoleChange:
    space_id: str
    user_id: str
    role: Role
    previous_role: Role
    live: bool  # applied to an open connection (False: not connected, takes effect at join)

    @property
    def changed(self) -> bool:
        return self.role is not self.previous_role


@dataclass
class StageService:
    spaces: SpaceRepository
    members: MemberRepository
    media: MediaServer
    lifecycle: SpaceLifecycle
    joins: JoinService
    limits: RateLimiter | None = None  # raise/lower hand, like reactions
    hand_limit: int = 6
    hand_window_seconds: int = 60

    # -- speak requests ----------------------------------------------------------------------
    def raise_hand(self, caller: str, space_id: str) -> Member:
        """Raise the caller's hand. The hosts are told once per raise: raising a hand that is
        already up changes nothing and tells nobody again."""
        space, member = self._read(space_id, caller)
        for _ in range(_ATTEMPTS):
            check_raise_hand(space, caller, member)
            self.joins.admit(space, caller, member)
            self._take_hand_slot(space_id, caller)
            now = utcnow()
            try:
                member = self.members.raise_hand(space_id, caller, now)
                break
            except StageChanged:
                space, member = self._read(space_id, caller, consistent=True)
        else:
            raise InvalidState("the Space changed while this request ran; try again")
        if member.hand_raised_at != now:
            return member  # it was already up (this request, or a concurrent one, kept its time)
        self._notify(space, {"type": "hand_raised", "user_id": caller,
                             "requested_at": member.hand_raised_at.isoformat() if member.hand_raised_at else None},
                     to=[space.host_id, *space.cohost_ids])
        return member

    def lower_hand(self, caller: str, space_id: str) -> bool:
        space = self.spaces.require(space_id)
        self._take_hand_slot(space_id, caller)
        lowered = self.members.lower_hand(space_id, caller)
        if lowered:
            self._notify(space, {"type": "hand_lowered", "user_id": caller}, to=[space.host_id, *space.cohost_ids])
        return lowered

    def _take_hand_slot(self, space_id: str, caller: str) -> None:
        if self.limits is None:
            return
        now = utcnow()
        window = rate_window(now, self.hand_window_seconds)
        if not self.limits.take(f"hands#{space_id}#{caller}", window_start=window,
                                window_seconds=self.hand_window_seconds, limit=self.hand_limit):
            raise RateLimited(
                f"at most {self.hand_limit} hand raises or lowers every {self.hand_window_seconds} seconds",
                details={"limit": self.hand_limit, "window_seconds": self.hand_window_seconds,
                         "retry_after_seconds": max(1, window + self.hand_window_seconds - int(now.timestamp()))})

    def requests(self, caller: str, space_id: str, page: PageRequest) -> Page[Member]:
        space = self.spaces.require(space_id)
        require_moderator(space, caller)
        return self.members.hands_page(space_id, page)

    def approve(self, caller: str, space_id: str, user_id: str) -> RoleChange:
        def rule(s: Space, m: Member | None) -> None:
            check_answer_request(s, caller, m)
            check_grant_speaker(s, caller, user_id, m)

        space, member = self._read(space_id, user_id)
        check_answer_request(space, caller, member)
        return self._change(space, member, caller, user_id, Role.speaker, rule=rule)

    def deny(self, caller: str, space_id: str, user_id: str) -> None:
        space, member = self._read(space_id, user_id)
        check_answer_request(space, caller, member)
        if not self.members.lower_hand(space_id, user_id):
            raise NotFound("there is no pending speak request from this user")
        self._notify(space, {"type": "speak_request_denied", "user_id": user_id}, to=[user_id])

    # -- speakers and co-hosts ---------------------------------------------------------------
    def add_speaker(self, caller: str, space_id: str, user_id: str) -> RoleChange:
        def rule(s: Space, m: Member | None) -> None:
            check_grant_speaker(s, caller, user_id, m)

        space, member = self._read(space_id, user_id)
        return self._change(space, member, caller, user_id, Role.speaker, rule=rule)

    def remove_speaker(self, caller: str, space_id: str, user_id: str) -> RoleChange:
        def rule(s: Space, m: Member | None) -> None:
            check_revoke_speaker(s, caller, user_id)
            if user_id == s.host_id or user_id in s.cohost_ids:
                role = role_of(s, user_id).value
                raise InvalidState(f"that user is the {role}, not a speaker", details={"role": role})

        space, member = self._read(space_id, user_id)
        return self._change(space, member, caller, user_id, Role.listener, rule=rule)

    def add_cohost(self, caller: str, space_id: str, user_id: str) -> RoleChange:
        def rule(s: Space, m: Member | None) -> None:
            check_grant_cohost(s, caller, user_id, m)

        space, member = self._read(space_id, user_id)
        return self._change(space, member, caller, user_id, Role.cohost, rule=rule)

    def remove_cohost(self, caller: str, space_id: str, user_id: str) -> RoleChange:
        def rule(s: Space, m: Member | None) -> None:
            check_revoke_cohost(s, caller)
            if user_id in s.speaker_ids or user_id == s.host_id:
                role = role_of(s, user_id).value
                raise InvalidState(f"that user is the {role}, not a co-host", details={"role": role})

        space, member = self._read(space_id, user_id)
        return self._change(space, member, caller, user_id, Role.listener, rule=rule)

    # -- the one way a role changes ----------------------------------------------------------
    def _change(self, space: Space, member: Member | None, caller: str, user_id: str, to: Role,
                *, rule: Rule) -> RoleChange:
        for _ in range(_ATTEMPTS):
            rule(space, member)
            before = role_of(space, user_id)
            if before is to:
                if to.publishes:  # a retry of a grant whose hand-lowering failed finishes it
                    self.members.lower_hand(space.id, user_id)
                return RoleChange(space.id, user_id, to, before, live=False)
            try:
                live = self._store_and_apply(space, caller, user_id, before, to)
                break
            except StageChanged:
                space, member = self._read(space.id, user_id, consistent=True)
        else:
            raise InvalidState("the stage changed while this request ran; try again")
        if space.state is SpaceState.live:
            self.joins.moved_on_stage(space, user_id, before, to, connected=live)
        if to.publishes:
            self.members.lower_hand(space.id, user_id)  # answered: off the queue
        self.lifecycle.after_role_change(with_role(space, user_id, to), user_id, to.value)
        return RoleChange(space.id, user_id, to, before, live=live)

    def _store_and_apply(self, space: Space, caller: str, user_id: str, before: Role, to: Role) -> bool:
        if space.state is not SpaceState.live:
            self.members.move(space.id, user_id, from_role=before.value, to_role=to.value, by=caller, now=utcnow())
            return False
        if to.publishes and not before.publishes:
            # grant: claim the seat first, then open the microphone
            self.members.move(space.id, user_id, from_role=before.value, to_role=to.value, by=caller, now=utcnow())
            try:
                return self.media.set_role(space.id, user_id, to.value)
            except UpstreamUnavailable:
                self._undo_store(space.id, user_id, to, before)
                raise
        # revocation (or a swap between stage roles): close the microphone first, then store
        live = self.media.set_role(space.id, user_id, to.value)
        try:
            self.members.move(space.id, user_id, from_role=before.value, to_role=to.value, by=caller, now=utcnow())
        except StageChanged:
            if live:
                self._undo_apply(space.id, user_id, before)
            raise
        return live

    def _undo_store(self, space_id: str, user_id: str, done: Role, back: Role) -> None:
        try:
            self.members.move(space_id, user_id, from_role=done.value, to_role=back.value, by="system", now=utcnow())
        except StageChanged:
            log.warning("could not undo the role of %s in %s: it changed meanwhile", user_id, space_id)

    def _undo_apply(self, space_id: str, user_id: str, back: Role) -> None:
        try:
            self.media.set_role(space_id, user_id, back.value)
        except UpstreamUnavailable:
            log.warning("could not restore the media role of %s in %s", user_id, space_id)

    # -- helpers -----------------------------------------------------------------------------
    def _read(self, space_id: str, user_id: str, *, consistent: bool = False) -> tuple[Space, Member | None]:
        if consistent:
            space = self.spaces.require(space_id, consistent=True)
            return space, self.members.get(space_id, user_id, consistent=True)
        found, member = self.members.space_and_member(space_id, user_id)
        if found is None:
            raise NotFound(f"no Space {space_id}")
        return found, member

    def _notify(self, space: Space, payload: JsonObject, *, to: list[str]) -> None:
        """Hand-raise notices are a courtesy on top of the stored queue (which hosts can always
        read), so a media failure here does not fail the request."""
        try:
            self.media.send_data(space.id, TOPIC_SPEAK_REQUESTS, {"space_id": space.id, **payload}, to=to)
        except UpstreamUnavailable:
            log.warning("could not deliver a %s notice in %s", payload.get("type"), space.id)
