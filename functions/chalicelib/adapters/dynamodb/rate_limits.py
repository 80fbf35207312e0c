"""Fixed-window rate limits: one counter item per key and window, claimed with a conditional ADD.

``RATE#<key>/W#<window start>`` counts uses in the window; the write is refused once the count
reaches the limit, so concurrent callers cannot overshoot. Items expire by TTL.
"""
from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, values


class DynamoRateLimits:
    def __init__(self, table: Table) -> None:
        self.table = table

    def take(self, key: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        """Use one slot of ``key``'s current window; False when the window is full."""
        try:
            self.table.update(
                keys.rate_pk(key), keys.rate_window_sk(window_start),
                UpdateExpression="ADD uses :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(uses) OR uses < :limit",
                ExpressionAttributeValues=values({":one": 1, ":limit": limit,
                                                  ":expires": window_start + 2 * window_seconds + 60}),
            )
        except ConditionFailed:
            return False
        return True

    def used(self, names: Sequence[str], *, window_start: int) -> dict[str, int]:
        """How many uses each key has in the window (keys with none are left out)."""
        sk = keys.rate_window_sk(window_start)
        by_pk = {keys.rate_pk(n): n for n in names}
        items = self.table.batch_get((pk, sk) for pk in by_pk)
        return {by_pk[i["PK"]]: int(i.get("uses") or 0) for i in items}
