"""Who is connected to a Space's room, counted exactly from the media server's webhooks.

Each connection (LiveKit participant sid) has one ``SPACE#<id>/SESSION#<sid>`` item whose state
only moves forward: absent -> joined -> left, or absent -> left (a "left" that overtook its
"joined"). The count on the Space item moves in the same transaction as that state, so duplicate
deliveries change nothing and a late "joined" after its "left" is ignored.

``peak_listener_count`` stays exact without a read: the count never exceeds the peak, so a join
either finds them equal (both go up by one) or the count below the peak (only the count goes
up). Each variant is conditioned on its case; on a lost race we re-read and try the other.
"""
from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.spaces import SpaceState

SESSION_TTL = timedelta(days=2)
_ATTEMPTS = 8


def _session_key(space_id: str, sid: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.session_sk(sid))


def _meta_key(space_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.META)


class DynamoPresence:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _session(self, space_id: str, sid: str, user_id: str, state: str, now: datetime) -> dict[str, Any]:
        return {"PK": keys.space_pk(space_id), "SK": keys.session_sk(sid), "space_id": space_id, "sid": sid,
                "user_id": user_id, "state": state, f"{state}_at": now.isoformat(),
                "expires_at": int((now + SESSION_TTL).timestamp())}

    def joined(self, space_id: str, sid: str, user_id: str, now: datetime) -> bool:
        """Count a new connection to a live Space; False if it was seen before or the Space is
        not live (then nothing changes)."""
        at_peak = True
        for _ in range(_ATTEMPTS):
            if at_peak:
                update = "SET listener_count = listener_count + :one, peak_listener_count = peak_listener_count + :one"
                condition = "#state = :live AND listener_count = peak_listener_count"
            else:
                update = "SET listener_count = listener_count + :one"
                condition = "#state = :live AND listener_count < peak_listener_count"
            try:
                self.table.transact([
                    {"Put": {"Item": serialize(self._session(space_id, sid, user_id, "joined", now)),
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Update": {"Key": _meta_key(space_id), "UpdateExpression": update,
                                "ConditionExpression": condition, "ExpressionAttributeNames": {"#state": "state"},
                                "ExpressionAttributeValues": values({":one": 1, ":live": SpaceState.live.value})}},
                ])
                return True
            except TransactionCanceled as exc:
                if exc.failed(0):
                    return False  # a duplicate, or its "left" came first
                meta = self.table.get(keys.space_pk(space_id), keys.META, consistent=True)
                if meta is None or meta.get("state") != SpaceState.live.value:
                    return False
                at_peak = meta.get("listener_count", 0) >= meta.get("peak_listener_count", 0)
        raise RuntimeError(f"could not count a join to {space_id} after {_ATTEMPTS} attempts")

    def left(self, space_id: str, sid: str, user_id: str, now: datetime) -> bool:
        """Uncount a connection; False if it was never counted or already left."""
        for _ in range(_ATTEMPTS):
            try:
                self.table.transact([
                    {"Update": {"Key": _session_key(space_id, sid),
                                "UpdateExpression": "SET #state = :left, left_at = :now",
                                "ConditionExpression": "#state = :joined",
                                "ExpressionAttributeNames": {"#state": "state"},
                                "ExpressionAttributeValues": values({":left": "left", ":joined": "joined",
                                                                     ":now": now.isoformat()})}},
                    {"Update": {"Key": _meta_key(space_id),
                                "UpdateExpression": "SET listener_count = listener_count - :one",
                                "ConditionExpression": "listener_count > :zero",
                                "ExpressionAttributeValues": values({":one": 1, ":zero": 0})}},
                ])
                return True
            except TransactionCanceled as exc:
                if not exc.failed(0):
                    # counted but the Space item is gone or already at zero: just close the session
                    with contextlib.suppress(ConditionFailed):
                        self.table.update(keys.space_pk(space_id), keys.session_sk(sid),
                                          UpdateExpression="SET #state = :left, left_at = :now",
                                          ConditionExpression="#state = :joined",
                                          ExpressionAttributeNames={"#state": "state"},
                                          ExpressionAttributeValues=values({":left": "left", ":joined": "joined",
                                                                            ":now": now.isoformat()}))
                    return False
            # Not in "joined": either already left, or this "left" overtook its "joined".
            try:
                self.table.put(self._session(space_id, sid, user_id, "left", now),
                               ConditionExpression="attribute_not_exists(PK)")
                return False  # a tombstone: the late "joined" will find it and count nothing
            except ConditionFailed:
                item = self.table.get(keys.space_pk(space_id), keys.session_sk(sid), consistent=True)
                if item is not None and item.get("state") == "left":
                    return False
                # the "joined" landed between our two writes: try again
        raise RuntimeError(f"could not uncount a leave from {space_id} after {_ATTEMPTS} attempts")
