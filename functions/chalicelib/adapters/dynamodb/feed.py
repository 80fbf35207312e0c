""""Live now from people you follow" entries, fanned out on write for ordinary accounts.

``FEED#<user>/LIVE#<start>#<space>`` (the sort key is ``domain.feed.feed_key``) with ``via``, the
string set of followed people on the Space's stage who put it there. Each is added with ``ADD``, so
the host and a co-host fanning out to the same follower meet in one entry. Entries are removed when
the Space ends and expire by TTL as a backstop; readers check every entry against the Space.
The partition holds only feed entries, so ``SK < :before`` pages it newest first.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import Table, values
from chalicelib.domain.feed import KEY_PREFIX, FeedEntry, feed_key
from chalicelib.domain.spaces import Space

FEED_TTL_SECONDS = 3 * 24 * 3600
_WRITERS = 8


class DynamoFeed:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, space: Space, via: str, user_ids: Sequence[str]) -> None:
        """Put ``space`` in each user's feed on behalf of ``via`` (idempotent)."""
        key = feed_key(space)
        expires = int(space.sort_time.timestamp()) + FEED_TTL_SECONDS

        def one(user_id: str) -> None:
            self.table.update(
                keys.feed_pk(user_id), key,
                UpdateExpression="SET space_id = :s, expires_at = :e ADD via :v",
                ExpressionAttributeValues=values({":s": space.id, ":e": expires, ":v": {via}}),
            )

        if len(user_ids) <= 1:
            for user_id in user_ids:
                one(user_id)
            return
        with ThreadPoolExecutor(max_workers=min(_WRITERS, len(user_ids))) as pool:
            list(pool.map(one, user_ids))

    def remove(self, space: Space, user_ids: Sequence[str]) -> None:
        key = feed_key(space)
        for start in range(0, len(user_ids), 25):
            requests: dict[str, Any] = {self.table.name: [
                {"DeleteRequest": {"Key": keys.key(keys.feed_pk(uid), key)}}
                for uid in user_ids[start:start + 25]
            ]}
            while requests:
                out = self.table.call("batch_write_item", RequestItems=requests)
                requests = out.get("UnprocessedItems") or {}

    def entries_before(self, user_id: str, before: str | None,
                       limit: int) -> tuple[list[FeedEntry], bool]:
        """Up to ``limit`` entries with keys below ``before`` (all when None), newest first; and
        whether more may follow."""
        if before:
            condition, vals = "PK = :pk AND SK < :before", {":pk": keys.feed_pk(user_id), ":before": before}
        else:
            condition, vals = "PK = :pk AND begins_with(SK, :p)", {":pk": keys.feed_pk(user_id), ":p": KEY_PREFIX}
        items, last = self.table.query(KeyConditionExpression=condition, ExpressionAttributeValues=values(vals),
                                       ScanIndexForward=False, limit=limit)
        return [FeedEntry(i["SK"], frozenset(i.get("via") or ())) for i in items], last is not None
