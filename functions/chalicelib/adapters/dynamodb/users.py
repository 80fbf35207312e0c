"""User profiles and the follow graph in the single table.

Profile ``USER#<id>/PROFILE``; edge ``USER#<a>/FOLLOWS#<b>`` with GSI1 ``FOLLOWERS#<b>/<a>``
(followers of b). An edge and both counters change in one transaction, so counts stay exact
under concurrent follows, and a repeated follow or unfollow is a no-op.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import Table, TransactionCanceled, deserialize, serialize, values
from chalicelib.domain.errors import NotFound
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.users import User


def _profile_key(user_id: str) -> tuple[str, str]:
    return keys.user_pk(user_id), keys.PROFILE


def user_from_item(item: dict[str, Any]) -> User:
    return User.model_validate({k: v for k, v in item.items() if k not in ("PK", "SK")})


class DynamoUsers:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: str) -> User | None:
        item = self.table.get(*_profile_key(user_id))
        return user_from_item(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> list[User]:
        return [user_from_item(i) for i in self.table.batch_get(_profile_key(u) for u in user_ids)]

    def upsert(self, user_id: str, *, handle: str, display_name: str, follower_count: int | None,
               birthdate: date | None, protected: bool | None, suspended: bool | None,
               now: datetime) -> tuple[User, bool]:
        """Create or update a profile, never touching counts unless ``follower_count`` is given.
        Returns the profile and whether it was created."""
        sets: dict[str, Any] = {"id": user_id, "handle": handle, "display_name": display_name,
                                "updated_at": now.isoformat()}
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
                    "PK": keys.user_pk(follower), "SK": keys.follows_sk(followee),
                    "GSI1PK": keys.followers_gsi1(followee), "GSI1SK": follower,
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
                {"Delete": {"Key": keys.key(keys.user_pk(follower), keys.follows_sk(followee)),
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
        return self.table.get(keys.user_pk(follower), keys.follows_sk(followee)) is not None

    def following_page(self, user_id: str, page: PageRequest) -> Page[str]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": keys.user_pk(user_id), ":p": keys.FOLLOWS}),
            limit=page.limit, start_key=page.start,
        )
        return Page([i["followee"] for i in items], last)

    def followers_page(self, user_id: str, page: PageRequest) -> Page[str]:
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.followers_gsi1(user_id)}),
            limit=page.limit, start_key=page.start,
        )
        return Page([i["follower"] for i in items], last)

