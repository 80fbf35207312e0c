"""Idempotency records: ``IDEM#<caller>#<key>/IDEM``, claimed with one conditional put.

Only storage lives here; the in-progress -> completed flow lives in ``services/idempotency.py``.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, values
from chalicelib.ports import IdempotencyRecord


class DynamoIdempotencyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(self, scope: str, fingerprint: str, *, now: int, expires_at: int) -> IdempotencyRecord | None:
        """Take the key for this request; return the existing record when someone holds it."""
        try:
            self.table.put(
                {"PK": keys.idempotency_pk(scope), "SK": keys.IDEMPOTENCY, "status": "in_progress",
                 "fingerprint": fingerprint, "expires_at": expires_at},
                ConditionExpression="attribute_not_exists(PK) OR expires_at < :now",
                ExpressionAttributeValues=values({":now": now}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ConditionFailed as exc:
            old = exc.old or {}
            return IdempotencyRecord(
                status=old.get("status", "in_progress"), fingerprint=old.get("fingerprint", ""),
                status_code=old.get("status_code"), body=old.get("body"),
            )

    def complete(self, scope: str, *, status_code: int, body: str, expires_at: int) -> None:
        self.table.update(
            keys.idempotency_pk(scope), keys.IDEMPOTENCY,
            UpdateExpression="SET #s = :s, status_code = :c, body = :b, expires_at = :e",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values({":s": "completed", ":c": status_code, ":b": body, ":e": expires_at}),
        )

    def release(self, scope: str) -> None:
        self.table.delete(keys.idempotency_pk(scope), keys.IDEMPOTENCY)
