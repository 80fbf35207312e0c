"""Webhook events already handled: ``EVENT#<source>#<id>/EVENT``, claimed with one conditional put.

A claim that is released (the handler failed) lets the provider's retry run the event again. TTL
(``expires_at``) removes records once the provider no longer retries.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, values


class DynamoProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(self, source: str, event_id: str, *, now: int, ttl_seconds: int) -> bool:
        """True if this delivery is the first to claim the event."""
        try:
            self.table.put({"PK": keys.webhook_event_pk(source, event_id), "SK": keys.EVENT, "received_at": now,
                            "expires_at": now + ttl_seconds},
                           ConditionExpression="attribute_not_exists(PK) OR expires_at < :now",
                           ExpressionAttributeValues=values({":now": now}))
            return True
        except ConditionFailed:
            return False

    def release(self, source: str, event_id: str) -> None:
        self.table.delete(keys.webhook_event_pk(source, event_id), keys.EVENT)
