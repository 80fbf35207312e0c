"""Fan-out of a live Space into its audience's "following" feeds."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.spaces import Space
from ..ports import FeedRepository, NoLifecycle, UserRepository

FANOUT_PAGE = 500


@dataclass
class FeedFanout(NoLifecycle):
    """When a Space goes live, every follower of its host gets a feed entry."""

    users: UserRepository
    feed: FeedRepository

    def after_start(self, space: Space) -> None:
        self.fan_out(space, space.host_id)

    def fan_out(self, space: Space, user_id: str) -> None:
        start = None
        while True:
            followers, start = self.users.followers_page(user_id, start, FANOUT_PAGE)
            self.feed.add(space, followers)
            if not start:
                return
