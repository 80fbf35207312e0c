"""A Space's pinned content: the ``pinned`` map on ``SPACE#<id>/META``, set while the Space is
scheduled or live (one conditional update that answers the Space as it now reads)."""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.spaces import space_from_item
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, deserialize, values
from chalicelib.domain.errors import InvalidState
from chalicelib.domain.pins import Pin
from chalicelib.domain.spaces import Space, SpaceState


class DynamoPins:
    def __init__(self, table: Table) -> None:
        self.table = table

    def set_pin(self, space_id: str, pin: Pin | None) -> Space:
        """Pin (or unpin, with None) only while the Space is scheduled or live."""
        vals: dict[str, object] = {":live": SpaceState.live.value, ":scheduled": SpaceState.scheduled.value}
        if pin is None:
            update = "REMOVE pinned"
        else:
            update = "SET pinned = :pin"
            vals[":pin"] = pin.model_dump(mode="json", exclude_none=True)
        try:
            out = self.table.update(
                keys.space_pk(space_id), keys.META, UpdateExpression=update,
                ConditionExpression="attribute_exists(PK) AND #state IN (:live, :scheduled)",
                ExpressionAttributeNames={"#state": "state"}, ExpressionAttributeValues=values(vals),
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            state = (exc.old or {}).get("state", "missing")
            raise InvalidState(f"the Space is {state}; only a scheduled or live Space can be pinned",
                               details={"state": state}) from exc
        return space_from_item(deserialize(out["Attributes"]))
