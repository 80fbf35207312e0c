"""A Space's pinned content: the ``pinned`` map on ``SPACE#<id>/META``, set while the Space is
scheduled or live, in one transaction with its moderation-log entry. Pinning what is already
pinned (same text and link) or unpinning nothing changes nothing and logs nothing."""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.safety import write_logged
from chalicelib.adapters.dynamodb.spaces import space_from_item
from chalicelib.adapters.dynamodb.table import Table, values
from chalicelib.domain.errors import InvalidState, NotFound
from chalicelib.domain.moderation import LogWrite
from chalicelib.domain.pins import Pin
from chalicelib.domain.spaces import Space, SpaceState

_PINNABLE = "attribute_exists(PK) AND #state IN (:live, :scheduled)"


def _same_as(pin: Pin, vals: dict[str, object]) -> str:
    """The condition "``pinned`` already shows this text and link" (an absent one absent)."""
    parts = []
    for field, value in (("text", pin.text), ("url", pin.url)):
        if value is None:
            parts.append(f"attribute_not_exists(pinned.#{field})")
        else:
            vals[f":{field}"] = value
            parts.append(f"pinned.#{field} = :{field}")
    return " AND ".join(parts)


class DynamoPins:
    def __init__(self, table: Table) -> None:
        self.table = table

    def set_pin(self, space_id: str, pin: Pin | None, *, log: LogWrite) -> Space:
        """Pin (or unpin, with None) only while the Space is scheduled or live; answers the Space
        as it now reads."""
        vals: dict[str, object] = {":live": SpaceState.live.value, ":scheduled": SpaceState.scheduled.value}
        names = {"#state": "state"}
        if pin is None:
            update, changes = "REMOVE pinned", "attribute_exists(pinned)"
        else:
            vals[":pin"] = pin.model_dump(mode="json", exclude_none=True)
            names |= {"#text": "text", "#url": "url"}
            update, changes = "SET pinned = :pin", f"(attribute_not_exists(pinned) OR NOT ({_same_as(pin, vals)}))"
        write = {"Update": {"Key": keys.key(keys.space_pk(space_id), keys.META), "UpdateExpression": update,
                            "ConditionExpression": f"{_PINNABLE} AND {changes}", "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values(vals)}}
        changed = write_logged(self.table, write, log)
        item = self.table.get(keys.space_pk(space_id), keys.META, consistent=True)
        if item is None:
            raise NotFound(f"no Space {space_id}")
        space = space_from_item(item)
        if not changed and space.state not in (SpaceState.live, SpaceState.scheduled):
            raise InvalidState(f"the Space is {space.state.value}; only a scheduled or live Space can be pinned",
                               details={"state": space.state.value})
        return space
