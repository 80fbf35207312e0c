"""What a follow changes besides the edge.

Following or unfollowing a big account also updates the follower's list of big accounts: the
other half of the read-time merge (``following_feed.py``). Following an ordinary account that is
on stage in a live Space right now puts that Space in the new follower's feed at once (its
fan-out already ran, before this follow existed)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.feed import feed_key, on_stage, space_id_of
from chalicelib.domain.spaces import SpaceState
from chalicelib.ports import BigAccounts, FeedEntries, SpaceRepository


@dataclass
class BigAccountFollows:
    big: BigAccounts
    feed: FeedEntries | None = None
    spaces: SpaceRepository | None = None

    def followed(self, follower: str, followee: str) -> None:
        if self.big.modes([followee]):
            self.big.add_followers(followee, [follower])
            return
        self._feed_live_now(follower, followee)

    def unfollowed(self, follower: str, followee: str) -> None:
        if self.big.modes([followee]):
            self.big.remove_follower(followee, follower)

    def _feed_live_now(self, follower: str, followee: str) -> None:
        if self.feed is None or self.spaces is None:
            return
        live = self.big.live_keys_of([followee])
        if not live:
            return
        for space in self.spaces.get_many([space_id_of(k.key) for k in live]):
            if space.state is SpaceState.live and followee in on_stage(space) and \
                    feed_key(space) in {k.key for k in live}:
                self.feed.add(space, followee, [follower])
