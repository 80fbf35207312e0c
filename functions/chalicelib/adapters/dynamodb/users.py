"""User profiles and the follow graph in the single table.

Profile ``USER#<id>/PROFILE``; edge ``USER#<a>/FOLLOWS#<b>`` with GSI1 ``FOLLOWERS#<b>/<a>``
(followers of b). An edge and both counters change in one transaction, so counts stay exact
under concurrent follows, and a repeated follow or unfollow is a no-op.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.domain.errors import NotFound
from chalicelib.domain.users import User

from .table import Table, TransactionCanceled, deserialize, serialize, values


def _profile_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def user_from_item(item: dict[str, Any]) -> User:
    return User.model_validate({k: v for k, v in item.items() if k not in ("PK", "SK")})


class DynamoUsers:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: str) -> User | None:
        item = self.table.get(*_profile_key(user_id))
        return user_from_item(item) if item else None

    def get_many(self, user_ids: list[str]) -> list[User]:
        return [user_from_item(i) for i in self.table.batch_get(_profile_key(u) for u in user_ids)]

    def upsert(self, user_id: str, *, handle: str, display_name: str, follower_count: int | None,
               birthdate: date | None, protected: bool | None, suspended: bool | None,
               now: datetime) -> tuple[User, bool]:
        """Create or update a profile, never touching counts unless ``follower_count`` is given.
        Returns the profile and whether it was created."""
        sets = {"id": user_id, "handle": handle, "display_name": display_name, "updated_at": now.isoformat()}
        if follower_count is not None:
            sets["follower_count"] = follower_count
        if birthdate is not None:
            sets["birthdate"] = birthdate.isoformat()
        if protected is not None:
            sets["protected"] = protected
        if suspended is not None:
            sets["suspended"] = suspended
        names = {f"#{k}": k for k in sets}
        vals = {f":{k}": v for k, v in sets.items()}
        expr = ", ".join(f"#{k} = :{k}" for k in sets)
        expr += ", created_at = if_not_exists(created_at, :now)"
        defaults = ["following_count", "upcoming_count"] + ([] if follower_count is not None else ["follower_count"])
        expr += "".join(f", {d} = if_not_exists({d}, :zero)" for d in defaults)
        vals.update({":now": now.isoformat(), ":zero": 0})
        out = self.table.update(
            *_profile_key(user_id), UpdateExpression="SET " + expr,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values(vals),
            ReturnValues="ALL_NEW",
        )
        item = deserialize(out["Attributes"])
        return user_from_item(item), item.get("created_at") == now.isoformat()

    def follow(self, follower: str, followee: str, now: datetime) -> bool:
        """Add the edge and both counts atomically; False when the edge already existed."""
        try:
            self.table.transact([
                {"Put": {"Item": serialize({
                    "PK": f"USER#{follower}", "SK": f"FOLLOWS#{followee}",
                    "GSI1PK": f"FOLLOWERS#{followee}", "GSI1SK": follower,
                    "follower": follower, "followee": followee, "created_at": now.isoformat()}),
                    "ConditionExpression": "attribute_not_exists(PK)"}},
                self._count_change(follower, "following_count", 1),
                self._count_change(followee, "follower_count", 1),
            ])
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            raise NotFound("user not found") from exc

    def unfollow(self, follower: str, followee: str) -> bool:
        try:
            self.table.transact([
                {"Delete": {"Key": serialize({"PK": f"USER#{follower}", "SK": f"FOLLOWS#{followee}"}),
                            "ConditionExpression": "attribute_exists(PK)"}},
                self._count_change(follower, "following_count", -1),
                self._count_change(followee, "follower_count", -1),
            ])
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            raise NotFound("user not found") from exc

    def _count_change(self, user_id: str, counter: str, delta: int) -> dict[str, Any]:
        pk, sk = _profile_key(user_id)
        return {"Update": {
            "Key": serialize({"PK": pk, "SK": sk}),
            "UpdateExpression": f"ADD {counter} :d",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": values({":d": delta}),
        }}

    def is_following(self, follower: str, followee: str) -> bool:
        return self.table.get(f"USER#{follower}", f"FOLLOWS#{followee}") is not None

    def following_page(self, user_id: str, start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": f"USER#{user_id}", ":p": "FOLLOWS#"}),
            limit=limit, start_key=start,
        )
        return [i["followee"] for i in items], last

    def followers_page(self, user_id: str, start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": f"FOLLOWERS#{user_id}"}),
            limit=limit, start_key=start,
        )
        return [i["follower"] for i in items], last

