"""Moderation records: the per-Space log (the host reads it), reports (admins read them) and
personal blocks (the join and private-message checks read them)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import NotFound
from chalicelib.domain.moderation import (
    Block,
    LogWrite,
    ModerationAction,
    ModerationEntry,
    Report,
    check_block,
    clean_reason,
    entry_id,
    new_report_id,
)
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.roles import require_host
from chalicelib.ports import (
    BlockList,
    MessageRepository,
    ModerationLog,
    ReportRepository,
    SpaceRepository,
    UserRepository,
)


@dataclass
class ModerationRecords:
    log: ModerationLog
    spaces: SpaceRepository
    retention: timedelta

    def entry(self, space_id: str, action: ModerationAction, actor: str, *, target: str | None = None,
              message_id: str | None = None, at: datetime | None = None) -> LogWrite:
        """The entry for an action, for the repository to write with the action itself. ``at`` is
        when the action happened as stored with it (a ban's time), so that recording it again (a
        retry) rewrites the same entry; by default, now."""
        at = at or utcnow()
        entry = ModerationEntry(id=entry_id(space_id, action, actor, at, target_user_id=target, message_id=message_id),
                                space_id=space_id, action=action, actor_id=actor, target_user_id=target,
                                message_id=message_id, at=at)
        return LogWrite(entry, expires_at=int((at + self.retention).timestamp()))

    def record(self, space_id: str, action: ModerationAction, actor: str, *, target: str | None = None,
               message_id: str | None = None, at: datetime | None = None) -> ModerationEntry:
        """Log an action whose state is not in the table (``entry``'s identity makes it retry-safe)."""
        write = self.entry(space_id, action, actor, target=target, message_id=message_id, at=at)
        self.log.record(write.entry, expires_at=write.expires_at)
        return write.entry

    def held_for(self, space_id: str, action: ModerationAction, actor: str, *, target: str,
                 acting: bool) -> tuple[LogWrite | None, bool]:
        """For an action whose state is outside the table (a microphone mute): the entry to commit
        once it is done, held before it is done so that its identity is stored. ``acting``: it will
        change something now (an entry is held, or the one an earlier attempt held is reused);
        otherwise only an earlier attempt's held entry, if any, is still to commit (that attempt
        acted, then failed to log). Also answers whether the entry was held just now (a failure
        of the action releases only such an entry)."""
        if not acting:
            return self.log.held(space_id, action, target), False
        wanted = self.entry(space_id, action, actor, target=target)
        held = self.log.hold(wanted)
        return held, held.entry.id == wanted.entry.id

    def page(self, caller: str, space_id: str, page: PageRequest) -> Page[ModerationEntry]:
        """The Space's moderation log, newest first (the host only)."""
        space = self.spaces.require(space_id)
        require_host(space, caller)
        return self.log.page(space.id, page)


@dataclass
class ReportService:
    reports: ReportRepository
    spaces: SpaceRepository
    messages: MessageRepository

    def report(self, caller: str, space_id: str, reason: str, *, user_id: str | None = None,
               message_id: str | None = None) -> Report:
        reason, text = clean_reason(reason), None
        space = self.spaces.get(space_id)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        if message_id is not None:
            message = self.messages.get(space.id, message_id)
            if message is None or not message.visible_to(caller):
                raise NotFound(f"no message {message_id} of this Space that you can see")
            user_id, text = user_id or message.from_user_id, message.text
        report = Report(id=new_report_id(), space_id=space.id, reporter_id=caller, user_id=user_id,
                        message_id=message_id, message_text=text, reason=reason, created_at=utcnow())
        self.reports.add(report)
        return report

    def page(self, page: PageRequest) -> Page[Report]:
        return self.reports.page(page)


@dataclass
class BlockService:
    blocks: BlockList
    users: UserRepository

    def block(self, caller: str, target: str) -> bool:
        check_block(caller, target)
        if self.users.get(target) is None:
            raise NotFound(f"no user {target}")
        return self.blocks.block(caller, target, utcnow())

    def unblock(self, caller: str, target: str) -> bool:
        return self.blocks.unblock(caller, target)

    def page(self, caller: str, page: PageRequest) -> Page[Block]:
        return self.blocks.page(caller, page)
