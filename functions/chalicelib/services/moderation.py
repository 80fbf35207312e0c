"""Moderation of a live Space: muting a microphone, removing someone for good."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import InvalidState, NotFound, UpstreamUnavailable
from chalicelib.domain.moderation import ModerationAction
from chalicelib.domain.roles import Member, Role, StageChanged, check_mute, check_remove, role_of, with_role
from chalicelib.domain.spaces import Space
from chalicelib.ports import MediaServer, MemberRepository
from chalicelib.services.lifecycle import SpaceLifecycle
from chalicelib.services.safety import ModerationRecords

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MuteResult:
    space_id: str
    user_id: str
    connected: bool
    muted: bool  # a published microphone was muted (False: nothing was published)


@dataclass(frozen=True)
class Removal:
    space_id: str
    user_id: str
    disconnected: bool  # was connected and has been disconnected


@dataclass
class ModerationService:
    members: MemberRepository
    media: MediaServer
    lifecycle: SpaceLifecycle
    records: ModerationRecords | None = field(default=None, kw_only=True)

    def mute(self, caller: str, space_id: str, user_id: str) -> MuteResult:
        """Mute someone's microphone. They may turn it back on themselves (LiveKit does not let
        a server unmute, so a moderator can silence but never open a microphone). The state is
        the media server's, outside any transaction, so the log entry is held before an open
        microphone is muted and committed after: a retry (the mute or the log write failed)
        commits that one entry, and muting a muted microphone logs nothing."""
        space, _ = self._read(space_id, caller)
        check_mute(space, caller, user_id)
        microphones = self.media.microphones(space.id, user_id)
        opened = [sid for sid, muted in (microphones or {}).items() if not muted]
        held, fresh = None, False
        if self.records is not None and caller != user_id:
            held, fresh = self.records.held_for(space.id, ModerationAction.microphone_mute, caller, target=user_id,
                                                acting=bool(opened))
        try:
            for sid in opened:
                self.media.mute_track(space.id, user_id, sid)
        except UpstreamUnavailable:
            if self.records is not None and held is not None and fresh:
                self.records.log.release(held)
            raise
        if self.records is not None and held is not None:
            self.records.log.commit(held)
        return MuteResult(space.id, user_id, connected=microphones is not None, muted=bool(microphones))

    def remove(self, caller: str, space_id: str, user_id: str) -> Removal:
        """Ban from the Space (stored first, so a racing rejoin is refused) and disconnect. If
        the media server cannot disconnect them, the ban is undone and the answer is 503. The
        log entry is the ban's own (its time and author), so removing again (a retry after the
        log write failed) writes that entry if it is missing, never a second one."""
        space, member = self._read(space_id, user_id)
        check_remove(space, caller, user_id)
        already = member is not None and member.banned
        previous = role_of(space, user_id)
        now = utcnow()
        banned_at, banned_by = (member.banned_at, member.banned_by or caller) if member and already else (now, caller)
        if not already:
            try:
                self.members.ban(space.id, user_id, by=caller, now=now)
            except StageChanged as exc:
                space, _ = self._read(space_id, user_id)
                check_remove(space, caller, user_id)
                raise InvalidState("the Space changed while this request ran; try again") from exc
        try:
            disconnected = self.media.remove_participant(space.id, user_id)
        except UpstreamUnavailable:
            if not already:
                self.members.unban(space.id, user_id, restore=previous.value, now=utcnow())
            raise
        if self.records is not None and banned_at is not None:  # a ban stored before bans kept their time: logged then
            self.records.record(space.id, ModerationAction.remove, banned_by, target=user_id, at=banned_at)
        if previous is not Role.listener:
            self.lifecycle.after_role_change(with_role(space, user_id, Role.listener), user_id, Role.listener.value)
        return Removal(space.id, user_id, disconnected=disconnected)

    def _read(self, space_id: str, user_id: str) -> tuple[Space, Member | None]:
        space, member = self.members.space_and_member(space_id, user_id)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        return space, member
