""""Live now from people you follow" entries: ``FEED#<user>/LIVE#<space>``.

Entries are written when a Space goes live (fan-out on write) and expire by TTL as a backstop;
readers drop entries whose Space is no longer live, so a stale entry is never shown.
"""
from __future__ import annotations

from typing import Any

from ...domain.spaces import Space
from .table import Table, serialize, values

FEED_TTL_SECONDS = 24 * 3600


class DynamoFeed:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, space: Space, user_ids: list[str]) -> None:
        expires = int(space.sort_time.timestamp()) + FEED_TTL_SECONDS
        for start in range(0, len(user_ids), 25):
            requests: dict[str, Any] = {self.table.name: [
                {"PutRequest": {"Item": serialize({
                    "PK": f"FEED#{uid}", "SK": f"LIVE#{space.id}", "space_id": space.id,
                    "expires_at": expires})}}
                for uid in user_ids[start:start + 25]
            ]}
            while requests:
                out = self.table.call("batch_write_item", RequestItems=requests)
                requests = out.get("UnprocessedItems") or {}

    def page(self, user_id: str, start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": f"FEED#{user_id}", ":p": "LIVE#"}),
            limit=limit, start_key=start,
        )
        return [i["space_id"] for i in items], last
