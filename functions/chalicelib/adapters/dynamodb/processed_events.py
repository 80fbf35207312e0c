"""Webhook events: ``EVENT#<source>#<id>/EVENT``, claimed with one conditional put.

A delivery claims its event ``in_progress`` with a lease (``lease_until``) and marks it ``done``
once handled. A claim that is released (the handler failed), or whose lease ran out (its process
was killed before either), lets the provider's retry run the event again. TTL (``expires_at``)
removes records once the provider no longer retries. Records written before leases existed
carry no ``status`` and count as done.
"""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, values
from chalicelib.ports import EventClaim

IN_PROGRESS, DONE = "in_progress", "done"


class DynamoProcessedEvents:
    def __init__(self, table: Table) -> None:
        self.table = table

    def claim(self, source: str, event_id: str, *, now: int, lease_until: int) -> EventClaim:
        """``claimed`` if this delivery may handle the event; ``done`` if it was handled;
        ``in_progress`` if another delivery holds a live lease on it."""
        try:
            self.table.put({"PK": keys.webhook_event_pk(source, event_id), "SK": keys.EVENT, "received_at": now,
                            "status": IN_PROGRESS, "lease_until": lease_until, "expires_at": lease_until},
                           ConditionExpression=("attribute_not_exists(PK) OR expires_at < :now"
                                                " OR (#s = :in_progress AND lease_until < :now)"),
                           ExpressionAttributeNames={"#s": "status"},
                           ExpressionAttributeValues=values({":now": now, ":in_progress": IN_PROGRESS}),
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return "claimed"
        except ConditionFailed as exc:
            old = exc.old or {}
            return "in_progress" if old.get("status") == IN_PROGRESS else "done"

    def complete(self, source: str, event_id: str, *, expires_at: int) -> None:
        self.table.update(keys.webhook_event_pk(source, event_id), keys.EVENT,
                          UpdateExpression="SET #s = :done, expires_at = :e REMOVE lease_until",
                          ExpressionAttributeNames={"#s": "status"},
                          ExpressionAttributeValues=values({":done": DONE, ":e": expires_at}))

    def release(self, source: str, event_id: str) -> None:
        self.table.delete(keys.webhook_event_pk(source, event_id), keys.EVENT)
