"""Reactions: a fixed set of emoji, rate-limited per person, delivered to everyone in the room."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.clock import to_rfc3339, utcnow
from chalicelib.domain.errors import NotFound, RateLimited
from chalicelib.domain.roles import (
    REACTION_LIMIT,
    REACTION_WINDOW_SECONDS,
    TOPIC_REACTIONS,
    check_reaction,
    rate_window,
)
from chalicelib.ports import MediaServer, MemberRepository, RateLimiter
from chalicelib.services.joins import JoinService


@dataclass(frozen=True)
class Reaction:
    space_id: str
    user_id: str
    emoji: str
    sent_at: datetime


@dataclass
class ReactionService:
    members: MemberRepository
    media: MediaServer
    limits: RateLimiter
    joins: JoinService

    def react(self, caller: str, space_id: str, emoji: str) -> Reaction:
        emoji = check_reaction(emoji)
        space, member = self.members.space_and_member(space_id, caller)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        self.joins.admit(space, caller, member)
        now = utcnow()
        window = rate_window(now, REACTION_WINDOW_SECONDS)
        if not self.limits.take(f"reactions#{space_id}#{caller}", window_start=window,
                                window_seconds=REACTION_WINDOW_SECONDS, limit=REACTION_LIMIT):
            retry = max(1, window + REACTION_WINDOW_SECONDS - int(now.timestamp()))
            raise RateLimited(f"at most {REACTION_LIMIT} reactions every {REACTION_WINDOW_SECONDS} seconds",
                              details={"limit": REACTION_LIMIT, "window_seconds": REACTION_WINDOW_SECONDS,
                                       "retry_after_seconds": retry})
        reaction = Reaction(space.id, caller, emoji, now)
        self.media.send_data(space.id, TOPIC_REACTIONS, {
            "type": "reaction", "space_id": space.id, "user_id": caller, "emoji": emoji,
            "sent_at": to_rfc3339(now)})
        return reaction
