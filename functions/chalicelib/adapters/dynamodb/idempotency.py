"""Idempotency records: ``IDEM#<caller>#<key>/IDEM``, claimed with one conditional put.

Only storage lives here; the in-progress -> completed flow lives in ``services/idempotency.py``.
An in-progress record holds its key until ``lease_until`` only; after that (its process died
before completing or releasing) the next claim takes it over. ``expires_at`` is the table's TTL.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, values
from chalicelib.ports import IdempotencyRecord


class DynamoIdempotencyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(self, scope: str, fingerprint: str, *, now: int, lease_until: int,
              expires_at: int) -> IdempotencyRecord | None:
        """Take the key for this request; return the existing record when someone holds it."""
        try:
            self.table.put(
                {"PK": keys.idempotency_pk(scope), "SK": keys.IDEMPOTENCY, "status": "in_progress",
                 "fingerprint": fingerprint, "lease_until": lease_until, "expires_at": expires_at},
                ConditionExpression=("attribute_not_exists(PK) OR expires_at < :now"
                                     " OR (#s = :in_progress AND lease_until < :now)"),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values({":now": now, ":in_progress": "in_progress"}),
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
            UpdateExpression="SET #s = :s, status_code = :c, body = :b, expires_at = :e REMOVE lease_until",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values({":s": "completed", ":c": status_code, ":b": body, ":e": expires_at}),
        )

    def release(self, scope: str) -> None:
        self.table.delete(keys.idempotency_pk(scope), keys.IDEMPOTENCY)
