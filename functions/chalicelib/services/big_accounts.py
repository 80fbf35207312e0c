"""Following or unfollowing a big account also updates the follower's list of big accounts: the
other half of the read-time merge (``following_feed.py``). Ordinary accounts need nothing."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.ports import BigAccounts


@dataclass
class BigAccountFollows:
    big: BigAccounts

    def followed(self, follower: str, followee: str) -> None:
        if self.big.modes([followee]):
            self.big.add_followers(followee, [follower])

    def unfollowed(self, follower: str, followee: str) -> None:
        if self.big.modes([followee]):
            self.big.remove_follower(followee, follower)
