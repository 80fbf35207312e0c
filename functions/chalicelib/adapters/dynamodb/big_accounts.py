"""Accounts too big to fan out, kept for a read-time merge into their followers' feeds.

- ``USER#<b>/FEEDMODE`` ``{mode}``: ``promoting`` while followers are being told, then ``big``.
  No item: an ordinary account (fanned out on write).
- ``USER#<f>/BIGFOLLOWS`` ``{ids: SS}``: the big accounts ``f`` follows (a hint; readers confirm
  each against the follow edge, so a stale id never shows a Space).
- ``USER#<b>/LIVEIN`` ``{keys: SS}``: feed keys of the live Spaces ``b`` is on stage in, and
  ``BIGLIVE/<b>#<space>`` ``{key, via}``: the same for all big accounts, for readers who follow
  so many big accounts that reading the whole (small) partition is cheaper.
- ``SPACE#<id>/FANOUT`` ``{users: SS}``: whose followers got feed entries, to remove them at the end.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.domain.feed import feed_key
from chalicelib.domain.spaces import Space

from .table import Table, serialize, values

LIVE_TTL_SECONDS = 3 * 24 * 3600
_WRITERS = 8


class DynamoBigAccounts:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- which accounts are big --------------------------------------------------------------
    def modes(self, user_ids: list[str]) -> dict[str, str]:
        items = self.table.batch_get((f"USER#{u}", "FEEDMODE") for u in user_ids)
        return {i["PK"].removeprefix("USER#"): i["mode"] for i in items}

    def begin_promotion(self, user_id: str) -> bool:
        """Claim the promotion of ``user_id``; False when it is already promoting or big."""
        from .table import ConditionFailed

        try:
            self.table.put({"PK": f"USER#{user_id}", "SK": "FEEDMODE", "mode": "promoting"},
                           ConditionExpression="attribute_not_exists(PK)")
            return True
        except ConditionFailed:
            return False

    def finish_promotion(self, user_id: str) -> None:
        self.table.update(f"USER#{user_id}", "FEEDMODE", UpdateExpression="SET #m = :big",
                          ExpressionAttributeNames={"#m": "mode"}, ExpressionAttributeValues=values({":big": "big"}))

    # -- who follows them --------------------------------------------------------------------
    def add_followers(self, big_id: str, follower_ids: list[str]) -> None:
        def one(follower: str) -> None:
            self.table.update(f"USER#{follower}", "BIGFOLLOWS", UpdateExpression="ADD ids :b",
                              ExpressionAttributeValues=values({":b": {big_id}}))

        with ThreadPoolExecutor(max_workers=max(1, min(_WRITERS, len(follower_ids)))) as pool:
            list(pool.map(one, follower_ids))

    def remove_follower(self, big_id: str, follower_id: str) -> None:
        self.table.update(f"USER#{follower_id}", "BIGFOLLOWS", UpdateExpression="DELETE ids :b",
                          ExpressionAttributeValues=values({":b": {big_id}}))

    def followed_by(self, user_id: str) -> set[str]:
        item = self.table.get(f"USER#{user_id}", "BIGFOLLOWS")
        return set(item.get("ids") or ()) if item else set()

    def following_among(self, user_id: str, candidates: list[str]) -> set[str]:
        """Which of ``candidates`` ``user_id`` follows, from the follow edges (``users.py``)."""
        items = self.table.batch_get((f"USER#{user_id}", f"FOLLOWS#{c}") for c in candidates)
        return {i["SK"].removeprefix("FOLLOWS#") for i in items}

    # -- where they are live -----------------------------------------------------------------
    def index_live(self, space: Space, big_id: str) -> None:
        key, expires = feed_key(space), int(space.sort_time.timestamp()) + LIVE_TTL_SECONDS
        self.table.transact([
            {"Update": {"Key": serialize({"PK": f"USER#{big_id}", "SK": "LIVEIN"}),
                        "UpdateExpression": "ADD #k :k", "ExpressionAttributeNames": {"#k": "keys"},
                        "ExpressionAttributeValues": values({":k": {key}})}},
            {"Put": {"Item": serialize({"PK": "BIGLIVE", "SK": f"{big_id}#{space.id}", "key": key,
                                        "via": big_id, "expires_at": expires})}},
        ])

    def unindex_live(self, space: Space, big_id: str) -> None:
        self.table.transact([
            {"Update": {"Key": serialize({"PK": f"USER#{big_id}", "SK": "LIVEIN"}),
                        "UpdateExpression": "DELETE #k :k", "ExpressionAttributeNames": {"#k": "keys"},
                        "ExpressionAttributeValues": values({":k": {feed_key(space)}})}},
            {"Delete": {"Key": serialize({"PK": "BIGLIVE", "SK": f"{big_id}#{space.id}"})}},
        ])

    def live_keys_of(self, big_ids: list[str]) -> list[tuple[str, str]]:
        """``(feed key, big id)`` of the live Spaces these accounts are on stage in."""
        items = self.table.batch_get((f"USER#{b}", "LIVEIN") for b in big_ids)
        return [(k, i["PK"].removeprefix("USER#")) for i in items for k in i.get("keys") or ()]

    def all_live_keys(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(KeyConditionExpression="PK = :pk",
                                            ExpressionAttributeValues=values({":pk": "BIGLIVE"}),
                                            start_key=start)
            found += [(i["key"], i["via"]) for i in items]
            if not start:
                return found

    # -- cleanup bookkeeping -----------------------------------------------------------------
    def note_fanned(self, space_id: str, user_id: str) -> None:
        self.table.update(f"SPACE#{space_id}", "FANOUT", UpdateExpression="ADD #u :u",
                          ExpressionAttributeNames={"#u": "users"}, ExpressionAttributeValues=values({":u": {user_id}}))

    def fanned(self, space_id: str) -> set[str]:
        item = self.table.get(f"SPACE#{space_id}", "FANOUT")
        return set(item.get("users") or ()) if item else set()
