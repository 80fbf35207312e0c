"""Reminders on a scheduled Space: ``SPACE#<id>/REMINDER#<user>``.

Setting or clearing one moves the Space's ``subscriber_count`` in the same transaction, so the
count stays exact under concurrent and repeated calls; a repeat is a no-op.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import Table, TransactionCanceled, serialize, values
from chalicelib.domain.errors import InvalidState, NotFound
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.spaces import SpaceState


def _key(space_id: str, user_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.reminder_sk(user_id))


def _count(space_id: str, delta: int, *, scheduled_only: bool) -> dict[str, Any]:
    update: dict[str, Any] = {
        "Key": keys.key(keys.space_pk(space_id), keys.META),
        "UpdateExpression": "ADD subscriber_count :d",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": values({":d": delta}),
    }
    if scheduled_only:
        update["ConditionExpression"] += " AND #state = :scheduled"
        update["ExpressionAttributeNames"] = {"#state": "state"}
        update["ExpressionAttributeValues"] = values({":d": delta, ":scheduled": SpaceState.scheduled.value})
    return {"Update": update}


class DynamoReminders:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, space_id: str, user_id: str, now: datetime) -> bool:
        """Set a reminder; False when it was already set. Only scheduled Spaces take new ones."""
        try:
            self.table.transact([
                {"Put": {"Item": serialize({"PK": keys.space_pk(space_id), "SK": keys.reminder_sk(user_id),
                                            "user_id": user_id, "created_at": now.isoformat()}),
                         "ConditionExpression": "attribute_not_exists(PK)"}},
                _count(space_id, +1, scheduled_only=True),
            ])
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            meta = self.table.get(keys.space_pk(space_id), keys.META, consistent=True)
            if meta is None:
                raise NotFound(f"no Space {space_id}") from exc
            raise InvalidState(f"reminders are for scheduled Spaces; this one is {meta['state']}",
                               details={"state": meta["state"]}) from exc

    def remove(self, space_id: str, user_id: str) -> bool:
        """Clear a reminder (in any state); False when there was none."""
        try:
            self.table.transact([
                {"Delete": {"Key": _key(space_id, user_id), "ConditionExpression": "attribute_exists(PK)"}},
                _count(space_id, -1, scheduled_only=False),
            ])
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            raise NotFound(f"no Space {space_id}") from exc

    def has(self, space_id: str, user_id: str) -> bool:
        return self.table.get(keys.space_pk(space_id), keys.reminder_sk(user_id)) is not None

    def holders_page(self, space_id: str, page: PageRequest) -> Page[str]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":p": keys.REMINDER}),
            limit=page.limit, start_key=page.start,
        )
        return Page([i["user_id"] for i in items], last)
