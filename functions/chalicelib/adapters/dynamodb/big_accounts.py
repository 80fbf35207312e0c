"""Accounts too big to fan out, kept for a read-time merge into their followers' feeds.

- ``USER#<b>/FEEDMODE`` ``{mode}``: ``promoting`` while followers are being told, then ``big``.
  No item: an ordinary account (fanned out on write).
- ``USER#<f>/BIGFOLLOWS`` ``{ids: SS}``: the big accounts ``f`` follows (a hint; readers confirm
  each against the follow edge, so a stale id never shows a Space).
- ``USER#<b>/LIVEIN`` ``{keys: SS}``: feed keys of the live Spaces ``b`` is on stage in (kept for
  ordinary accounts too, so following someone already live shows their Space at once), and
  ``BIGLIVE/<b>#<space>`` ``{key, via}``: the same for all big accounts, for readers who follow
  so many big accounts that reading the whole (small) partition is cheaper.
- ``SPACE#<id>/FANOUT`` ``{users: SS}``: whose followers got feed entries, to remove them at the end.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, serialize, values
from chalicelib.domain.feed import BigLive, FeedMode, feed_key
from chalicelib.domain.spaces import Space

LIVE_TTL_SECONDS = 3 * 24 * 3600
_WRITERS = 8


class DynamoBigAccounts:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- which accounts are big --------------------------------------------------------------
    def modes(self, user_ids: Sequence[str]) -> dict[str, FeedMode]:
        """The mode of each account that is not ordinary (ordinary accounts have no item)."""
        items = self.table.batch_get((keys.user_pk(u), keys.FEED_MODE) for u in user_ids)
        return {keys.user_of(i["PK"]): FeedMode(i["mode"]) for i in items}

    def begin_promotion(self, user_id: str) -> bool:
        """Claim the promotion of ``user_id``; False when it is already promoting or big."""
        try:
            self.table.put({"PK": keys.user_pk(user_id), "SK": keys.FEED_MODE, "mode": FeedMode.promoting.value},
                           ConditionExpression="attribute_not_exists(PK)")
            return True
        except ConditionFailed:
            return False

    def finish_promotion(self, user_id: str) -> None:
        self.table.update(keys.user_pk(user_id), keys.FEED_MODE, UpdateExpression="SET #m = :big",
                          ExpressionAttributeNames={"#m": "mode"},
                          ExpressionAttributeValues=values({":big": FeedMode.big.value}))

    # -- who follows them --------------------------------------------------------------------
    def add_followers(self, big_id: str, follower_ids: Sequence[str]) -> None:
        def one(follower: str) -> None:
            self.table.update(keys.user_pk(follower), keys.BIG_FOLLOWS, UpdateExpression="ADD ids :b",
                              ExpressionAttributeValues=values({":b": {big_id}}))

        with ThreadPoolExecutor(max_workers=max(1, min(_WRITERS, len(follower_ids)))) as pool:
            list(pool.map(one, follower_ids))

    def remove_follower(self, big_id: str, follower_id: str) -> None:
        self.table.update(keys.user_pk(follower_id), keys.BIG_FOLLOWS, UpdateExpression="DELETE ids :b",
                          ExpressionAttributeValues=values({":b": {big_id}}))

    def followed_by(self, user_id: str) -> set[str]:
        item = self.table.get(keys.user_pk(user_id), keys.BIG_FOLLOWS)
        return set(item.get("ids") or ()) if item else set()

    def following_among(self, user_id: str, candidates: Sequence[str]) -> set[str]:
        """Which of ``candidates`` ``user_id`` follows, from the follow edges (``users.py``)."""
        items = self.table.batch_get((keys.user_pk(user_id), keys.follows_sk(c)) for c in candidates)
        return {i["SK"].removeprefix(keys.FOLLOWS) for i in items}

    # -- where they are live -----------------------------------------------------------------
    def index_live(self, space: Space, big_id: str) -> None:
        key, expires = feed_key(space), int(space.sort_time.timestamp()) + LIVE_TTL_SECONDS
        self.table.transact([
            {"Update": {"Key": keys.key(keys.user_pk(big_id), keys.LIVE_IN),
                        "UpdateExpression": "ADD #k :k", "ExpressionAttributeNames": {"#k": "keys"},
                        "ExpressionAttributeValues": values({":k": {key}})}},
            {"Put": {"Item": serialize({"PK": keys.BIG_LIVE_PK, "SK": keys.big_live_sk(big_id, space.id), "key": key,
                                        "via": big_id, "expires_at": expires})}},
        ])

    def unindex_live(self, space: Space, big_id: str) -> None:
        self.table.transact([
            {"Update": {"Key": keys.key(keys.user_pk(big_id), keys.LIVE_IN),
                        "UpdateExpression": "DELETE #k :k", "ExpressionAttributeNames": {"#k": "keys"},
                        "ExpressionAttributeValues": values({":k": {feed_key(space)}})}},
            {"Delete": {"Key": keys.key(keys.BIG_LIVE_PK, keys.big_live_sk(big_id, space.id))}},
        ])

    def note_live_in(self, space: Space, user_id: str) -> None:
        """An ordinary account's half of ``index_live``: only its own ``LIVEIN`` (so a new
        follower finds the Space at once), not the big accounts' shared partition."""
        self.table.update(keys.user_pk(user_id), keys.LIVE_IN, UpdateExpression="ADD #k :k",
                          ExpressionAttributeNames={"#k": "keys"},
                          ExpressionAttributeValues=values({":k": {feed_key(space)}}))

    def forget_live_in(self, space: Space, user_id: str) -> None:
        self.table.update(keys.user_pk(user_id), keys.LIVE_IN, UpdateExpression="DELETE #k :k",
                          ExpressionAttributeNames={"#k": "keys"},
                          ExpressionAttributeValues=values({":k": {feed_key(space)}}))

    def live_keys_of(self, big_ids: Sequence[str]) -> list[BigLive]:
        """The live Spaces these accounts are on stage in."""
        items = self.table.batch_get((keys.user_pk(b), keys.LIVE_IN) for b in big_ids)
        return [BigLive(k, keys.user_of(i["PK"])) for i in items for k in i.get("keys") or ()]

    def all_live_keys(self) -> list[BigLive]:
        found: list[BigLive] = []
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(KeyConditionExpression="PK = :pk",
                                            ExpressionAttributeValues=values({":pk": keys.BIG_LIVE_PK}),
                                            start_key=start)
            found += [BigLive(i["key"], i["via"]) for i in items]
            if not start:
                return found

    # -- cleanup bookkeeping -----------------------------------------------------------------
    def note_fanned(self, space_id: str, user_id: str) -> None:
        self.table.update(keys.space_pk(space_id), keys.FANOUT, UpdateExpression="ADD #u :u",
                          ExpressionAttributeNames={"#u": "users"}, ExpressionAttributeValues=values({":u": {user_id}}))

    def fanned(self, space_id: str) -> set[str]:
        item = self.table.get(keys.space_pk(space_id), keys.FANOUT)
        return set(item.get("users") or ()) if item else set()
