"""In-room messages and chat mutes in the single table.

``SPACE#<id>/MSG#<message id>`` holds one message; ids sort by time (``domain.chat``), so a
Space's history is one Query newest first. Private messages carry ``to_user_id`` and a filter
keeps them to their two parties. A deleted message is deleted: it cannot come back in a list.
Each message expires by TTL (``expires_at``) after the chat retention. ``SPACE#<id>/CHATMUTE#<u>``
exists while ``u`` is chat-muted there.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.members import member_from_item
from chalicelib.adapters.dynamodb.safety import write_logged
from chalicelib.adapters.dynamodb.spaces import space_from_item
from chalicelib.adapters.dynamodb.table import Table, serialize, values
from chalicelib.domain.chat import Message, SenderView
from chalicelib.domain.moderation import LogWrite
from chalicelib.domain.pages import Page, PageRequest

_VISIBLE = "attribute_not_exists(to_user_id) OR to_user_id = :me OR from_user_id = :me"


def message_from_item(item: dict[str, Any]) -> Message:
    return Message(id=item["id"], space_id=item["space_id"], from_user_id=item["from_user_id"],
                   to_user_id=item.get("to_user_id"), text=item["text"], created_at=item["created_at"])


class DynamoMessages:
    def __init__(self, table: Table) -> None:
        self.table = table

    def sender_view(self, space_id: str, user_id: str) -> SenderView:
        """The Space, the caller's member record and their chat mute, in one round trip."""
        pk = keys.space_pk(space_id)
        view = SenderView(space=None)
        for item in self.table.batch_get([(pk, keys.META), (pk, keys.member_sk(user_id)),
                                          (pk, keys.chat_mute_sk(user_id))]):
            if item["SK"] == keys.META:
                view.space = space_from_item(item)
            elif item["SK"].startswith(keys.MEMBER):
                view.member = member_from_item(item)
            else:
                view.chat_muted = True
        return view

    def add(self, message: Message, *, expires_at: int) -> None:
        item = {"PK": keys.space_pk(message.space_id), "SK": keys.message_sk(message.id),
                **message.model_dump(mode="json"), "expires_at": expires_at}
        self.table.put(item, ConditionExpression="attribute_not_exists(PK)")

    def get(self, space_id: str, message_id: str) -> Message | None:
        item = self.table.get(keys.space_pk(space_id), keys.message_sk(message_id), consistent=True)
        return message_from_item(item) if item else None

    def remove(self, space_id: str, message_id: str, *, log: LogWrite | None = None) -> bool:
        """Delete a message (and write ``log``, a moderator's deletion, with it); False when it was
        already gone."""
        delete = {"Delete": {"Key": keys.key(keys.space_pk(space_id), keys.message_sk(message_id)),
                             "ConditionExpression": "attribute_exists(PK)"}}
        return write_logged(self.table, delete, log)

    def visible_page(self, space_id: str, viewer: str, page: PageRequest) -> Page[Message]:
        """Newest first, what ``viewer`` may read. The filter runs after ``Limit``, so the page is
        filled from further down; it is short only at the end of the history."""
        found: list[Message] = []
        start = page.start
        while True:
            items, last = self.table.query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :msg)", FilterExpression=_VISIBLE,
                ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":msg": keys.MESSAGE,
                                                  ":me": viewer}),
                ScanIndexForward=False, limit=page.limit - len(found), start_key=start)
            found += [message_from_item(i) for i in items]
            if last is None or len(found) >= page.limit:
                return Page(found, last)
            start = last

    # -- chat mutes --------------------------------------------------------------------------
    def set_chat_mute(self, space_id: str, user_id: str, *, muted: bool, by: str, now: datetime,
                      log: LogWrite) -> bool:
        """Mute or unmute ``user_id``'s chat, and write ``log`` with it; False when it already was so."""
        pk, sk = keys.space_pk(space_id), keys.chat_mute_sk(user_id)
        if muted:
            item = {"PK": pk, "SK": sk, "space_id": space_id, "user_id": user_id, "muted_by": by,
                    "muted_at": now.isoformat()}
            write = {"Put": {"Item": serialize(item), "ConditionExpression": "attribute_not_exists(PK)"}}
        else:
            write = {"Delete": {"Key": keys.key(pk, sk), "ConditionExpression": "attribute_exists(PK)"}}
        return write_logged(self.table, write, log)
