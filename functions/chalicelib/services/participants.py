"""Who is in a Space: the stage (from the Space), who is connected (from the media server),
raised hands (for moderators) and the counts. Of a live Space, only someone who may join it
sees this (the join rule: not banned or blocked, a paid ticket on a ticketed Space unless on
the stage)."""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.errors import NotFound
from chalicelib.domain.media import MediaParticipant
from chalicelib.domain.pages import PageRequest
from chalicelib.domain.roles import Member
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import MediaServer, MemberRepository, SpaceRepository
from chalicelib.services.joins import JoinService

HANDS_SHOWN = 100


@dataclass(frozen=True)
class StageView:
    space: Space
    connected: dict[str, MediaParticipant] = field(default_factory=dict)
    hands: list[Member] | None = None  # None: the caller may not see the queue


@dataclass
class ParticipantsService:
    spaces: SpaceRepository
    members: MemberRepository
    media: MediaServer
    joins: JoinService

    def view(self, caller: str, space_id: str) -> StageView:
        space, member = self.members.space_and_member(space_id, caller)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        if space.state is not SpaceState.live:
            return StageView(space, hands=[] if space.can_moderate(caller) else None)
        self.joins.admit(space, caller, member)  # 403 banned / ticket_required, as a join would be
        connected = {p.identity: p for p in self.media.participants(space.id)}
        hands = self.members.hands_page(space.id, PageRequest(None, HANDS_SHOWN)).items if space.can_moderate(caller) else None
        return StageView(space, connected, hands)
