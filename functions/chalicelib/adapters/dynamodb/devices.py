"""Push devices: ``USER#<u>/DEVICES`` ``{endpoints: {<device id>: {arn, platform, created_at}}}``
(one item per user, so a fan-out reads 100 users' devices in one BatchGetItem), and
``DEVICE#<id>/OWNER`` ``{user_id}`` so a device that signs in as someone else leaves its old owner.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.devices import MAX_DEVICES_PER_USER, Device
from chalicelib.domain.errors import UpstreamUnavailable

_ATTEMPTS = 4


def _entry(device: Device) -> dict[str, Any]:
    return {"arn": device.endpoint_arn, "platform": device.platform, "created_at": device.created_at.isoformat()}


class DynamoDevices:
    def __init__(self, table: Table) -> None:
        self.table = table

    def save(self, user_id: str, device: Device) -> tuple[bool, list[str]]:
        """Register ``device`` for ``user_id``: (False when it already was, the endpoint ARNs of
        the devices evicted to make room). Over the cap, the oldest devices make room. Each
        attempt is one conditional transaction on what was read."""
        for _ in range(_ATTEMPTS):
            current = self.table.get(keys.user_pk(user_id), keys.DEVICES, consistent=True)
            endpoints: dict[str, Any] = (current or {}).get("endpoints") or {}
            if endpoints.get(device.id, {}).get("arn") == device.endpoint_arn:
                return False, []
            owner = self.table.get(keys.device_pk(device.id), keys.OWNER, consistent=True)
            writes, evicted = self._writes(user_id, device, current, endpoints, owner)
            try:
                self.table.transact(writes)
                return True, [str(endpoints[i]["arn"]) for i in evicted if endpoints[i].get("arn")]
            except TransactionCanceled:
                continue  # someone changed the same user's devices meanwhile: read again
        raise UpstreamUnavailable("device registration kept conflicting; try again")

    def _writes(self, user_id: str, device: Device, current: dict[str, Any] | None,
                endpoints: dict[str, Any], owner: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
        writes: list[dict[str, Any]] = []
        evict: list[str] = []
        if current is None:
            writes.append({"Put": {"Item": serialize({"PK": keys.user_pk(user_id), "SK": keys.DEVICES, "version": 1,
                                                      "endpoints": {device.id: _entry(device)}}),
                                   "ConditionExpression": "attribute_not_exists(PK)"}})
        else:
            others = sorted((e.get("created_at", ""), i) for i, e in endpoints.items() if i != device.id)
            evict = [i for _, i in others[:max(0, len(others) - (MAX_DEVICES_PER_USER - 1))]]
            names = {"#e": "endpoints", "#d": device.id, "#v": "version",
                     **{f"#x{n}": i for n, i in enumerate(evict)}}
            expr = "SET #e.#d = :entry, #v = #v + :one"
            if evict:
                expr += " REMOVE " + ", ".join(f"#e.#x{n}" for n in range(len(evict)))
            writes.append({"Update": {
                "Key": serialize({"PK": keys.user_pk(user_id), "SK": keys.DEVICES}), "UpdateExpression": expr,
                "ConditionExpression": "#v = :seen", "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values({":entry": _entry(device), ":one": 1,
                                                     ":seen": current.get("version", 0)}),
            }})
        writes.append({"Put": {"Item": serialize({"PK": keys.device_pk(device.id), "SK": keys.OWNER, "user_id": user_id})}})
        if owner and owner.get("user_id") != user_id:
            writes.append({"Update": {
                "Key": keys.key(keys.user_pk(owner["user_id"]), keys.DEVICES),
                "UpdateExpression": "REMOVE #e.#d", "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeNames": {"#e": "endpoints", "#d": device.id},
            }})
        return writes, evict

    def remove(self, user_id: str, device_id: str) -> bool:
        """Forget a device of ``user_id``; False when it had no such device."""
        try:
            self.table.update(keys.user_pk(user_id), keys.DEVICES, UpdateExpression="REMOVE #e.#d",
                              ConditionExpression="attribute_exists(#e.#d)",
                              ExpressionAttributeNames={"#e": "endpoints", "#d": device_id})
        except ConditionFailed:
            return False
        try:
            self.table.delete(keys.device_pk(device_id), keys.OWNER, ConditionExpression="user_id = :u",
                              ExpressionAttributeValues=values({":u": user_id}))
        except ConditionFailed:
            pass  # it moved to someone else meanwhile: theirs now
        return True

    def get(self, user_id: str, device_id: str) -> Device | None:
        item = self.table.get(keys.user_pk(user_id), keys.DEVICES)
        entry = ((item or {}).get("endpoints") or {}).get(device_id)
        return _device(device_id, entry) if entry else None

    def of_users(self, user_ids: Sequence[str]) -> dict[str, list[Device]]:
        items = self.table.batch_get((keys.user_pk(u), keys.DEVICES) for u in user_ids)
        return {keys.user_of(i["PK"]): [_device(d, e) for d, e in sorted((i.get("endpoints") or {}).items())]
                for i in items}


def _device(device_id: str, entry: dict[str, Any]) -> Device:
    return Device(id=device_id, platform=entry["platform"], endpoint_arn=entry["arn"], created_at=entry["created_at"])
