"""Members of a Space: ``SPACE#<id>/MEMBER#<user>`` items and the stage roles on the Space item.

A member item holds what is true of someone in one Space: their role (a copy of the Space's
sets, written in the same transaction) and who gave it (``role_changed_by``: the inviter of an
invited speaker), a raised hand, a ban. Stage roles
live in the Space's ``cohost_ids``/``speaker_ids`` string sets so the caps are conditions on
one item (``size(...) < :max``): every role change is one transaction over the Space item and
the member item, never read-modify-write. Raised hands sit in a sparse GSI1 list
``HANDS#<space>`` sorted by time, so the queue is a Query, never a Scan.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.spaces import space_from_item
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, values
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.roles import Member, Role, StageChanged
from chalicelib.domain.spaces import MAX_COHOSTS, MAX_SPEAKERS, Space, SpaceState

_SET_OF = {Role.speaker: "speaker_ids", Role.cohost: "cohost_ids"}
_CAP_OF = {Role.speaker: MAX_SPEAKERS, Role.cohost: MAX_COHOSTS}
_NOT_BANNED = "(attribute_not_exists(banned) OR banned = :false)"


def _meta_key(space_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.META)


def _member_key(space_id: str, user_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.member_sk(user_id))


def member_from_item(item: dict[str, Any]) -> Member:
    return Member(space_id=item["space_id"], user_id=item["user_id"], banned=bool(item.get("banned")),
                  banned_at=item.get("banned_at"), banned_by=item.get("banned_by"),
                  hand_raised_at=item.get("hand_raised_at"))


class DynamoMembers:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- reads -------------------------------------------------------------------------------
    def get(self, space_id: str, user_id: str, *, consistent: bool = False) -> Member | None:
        item = self.table.get(keys.space_pk(space_id), keys.member_sk(user_id), consistent=consistent)
        return member_from_item(item) if item else None

    def space_and_member(self, space_id: str, user_id: str) -> tuple[Space | None, Member | None]:
        """The Space and the caller's member record in one round trip (the join path)."""
        pk = keys.space_pk(space_id)
        items = self.table.batch_get([(pk, keys.META), (pk, keys.member_sk(user_id))])
        space = member = None
        for item in items:
            if item["SK"] == keys.META:
                space = space_from_item(item)
            else:
                member = member_from_item(item)
        return space, member

    def hands_page(self, space_id: str, page: PageRequest) -> Page[Member]:
        """Raised hands, oldest first."""
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.hands_gsi1(space_id)}), limit=page.limit,
            start_key=page.start)
        return Page([member_from_item(i) for i in items], last)

    # -- speak requests ----------------------------------------------------------------------
    def raise_hand(self, space_id: str, user_id: str, now: datetime) -> Member:
        """Raise a listener's hand (keeping the first time if it is already up). Refused unless the
        Space is live, the user is a listener and not banned."""
        stamp = now.isoformat()
        self._transact([
            {"ConditionCheck": {
                "Key": _meta_key(space_id),
                "ConditionExpression": "#state = :live AND host_id <> :u"
                                       " AND (attribute_not_exists(cohost_ids) OR NOT contains(cohost_ids, :u))"
                                       " AND (attribute_not_exists(speaker_ids) OR NOT contains(speaker_ids, :u))",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": values({":live": SpaceState.live.value, ":u": user_id}),
            }},
            {"Update": {
                "Key": _member_key(space_id, user_id),
                "UpdateExpression": "SET space_id = :s, user_id = :u, #role = :listener,"
                                    " hand_raised_at = if_not_exists(hand_raised_at, :now),"
                                    " GSI1PK = :hands, GSI1SK = if_not_exists(GSI1SK, :sort)",
                "ConditionExpression": _NOT_BANNED,
                "ExpressionAttributeNames": {"#role": "role"},
                "ExpressionAttributeValues": values({
                    ":s": space_id, ":u": user_id, ":listener": Role.listener.value, ":now": stamp,
                    ":hands": keys.hands_gsi1(space_id), ":sort": f"{stamp}#{user_id}", ":false": False}),
            }},
        ])
        member = self.get(space_id, user_id, consistent=True)
        assert member is not None
        return member

    def lower_hand(self, space_id: str, user_id: str) -> bool:
        """Take a raised hand down; False when there was none."""
        try:
            self.table.update(keys.space_pk(space_id), keys.member_sk(user_id),
                              UpdateExpression="REMOVE hand_raised_at, GSI1PK, GSI1SK",
                              ConditionExpression="attribute_exists(hand_raised_at)")
        except ConditionFailed:
            return False
        return True

    # -- stage roles -------------------------------------------------------------------------
    def move(self, space_id: str, user_id: str, *, from_role: str, to_role: str, by: str, now: datetime) -> None:
        """Compare-and-set a stage role: ``user_id`` goes from ``from_role`` (as last read) to
        ``to_role`` only if that is still their role, the Space is scheduled or live, the seat
        cap holds and (for a stage role) they are not banned. Raises ``StageChanged``
        otherwise, and the caller re-reads to learn why. A raised hand stays up: the caller lowers
        it once the change has reached the media server too."""
        source, target = Role(from_role), Role(to_role)
        if Role.host in (source, target) or source is target:
            raise ValueError(f"cannot move {user_id} from {source.value} to {target.value}")
        expect = {
            Role.listener: "(attribute_not_exists(speaker_ids) OR NOT contains(speaker_ids, :u))"
                           " AND (attribute_not_exists(cohost_ids) OR NOT contains(cohost_ids, :u))",
            Role.speaker: "contains(speaker_ids, :u)",
            Role.cohost: "contains(cohost_ids, :u)",
        }[source]
        condition = f"#state IN (:live, :scheduled) AND host_id <> :u AND {expect}"
        vals: dict[str, Any] = {":live": SpaceState.live.value, ":scheduled": SpaceState.scheduled.value,
                                ":u": user_id, ":uset": {user_id}, ":now": now.isoformat()}
        if target is Role.listener:
            update = "DELETE speaker_ids :uset, cohost_ids :uset SET updated_at = :now"
        else:
            own = _SET_OF[target]
            other = _SET_OF[Role.cohost if target is Role.speaker else Role.speaker]
            update = f"ADD {own} :uset DELETE {other} :uset SET updated_at = :now"
            condition += f" AND (attribute_not_exists({own}) OR size({own}) < :max)"
            vals[":max"] = _CAP_OF[target]
        self._transact([
            {"Update": {"Key": _meta_key(space_id), "UpdateExpression": update, "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#state": "state"}, "ExpressionAttributeValues": values(vals)}},
            self._member_update(space_id, user_id, target, now, guard=target.publishes, by=by),
        ])

    # -- bans --------------------------------------------------------------------------------
    def ban(self, space_id: str, user_id: str, *, by: str, now: datetime) -> None:
        """Ban from a live Space: the user loses any stage role and raised hand in the same write."""
        self._transact([
            {"Update": {
                "Key": _meta_key(space_id),
                "UpdateExpression": "DELETE speaker_ids :uset, cohost_ids :uset SET updated_at = :now",
                "ConditionExpression": "#state = :live AND host_id <> :u",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": values({":live": SpaceState.live.value, ":u": user_id,
                                                     ":uset": {user_id}, ":now": now.isoformat()}),
            }},
            {"Update": {
                "Key": _member_key(space_id, user_id),
                "UpdateExpression": "SET space_id = :s, user_id = :u, #role = :listener, banned = :true,"
                                    " banned_at = :now, banned_by = :by REMOVE hand_raised_at, GSI1PK, GSI1SK",
                "ExpressionAttributeNames": {"#role": "role"},
                "ExpressionAttributeValues": values({":s": space_id, ":u": user_id, ":listener": Role.listener.value,
                                                     ":true": True, ":now": now.isoformat(), ":by": by}),
            }},
        ])

    def unban(self, space_id: str, user_id: str, *, restore: str, now: datetime) -> None:
        """Undo a ban the media server could not carry out, giving back the role if a seat is free."""
        self.table.update(keys.space_pk(space_id), keys.member_sk(user_id),
                          UpdateExpression="SET banned = :false REMOVE banned_at, banned_by",
                          ExpressionAttributeValues=values({":false": False}))
        if Role(restore) in _SET_OF:
            try:
                self.move(space_id, user_id, from_role=Role.listener.value, to_role=restore, by="system", now=now)
            except StageChanged:
                pass  # the seat was taken meanwhile: they stay a listener

    # -- building blocks ---------------------------------------------------------------------
    def _member_update(self, space_id: str, user_id: str, role: Role, now: datetime, *, guard: bool,
                       by: str) -> dict[str, Any]:
        vals: dict[str, Any] = {":s": space_id, ":u": user_id, ":role": role.value, ":now": now.isoformat(),
                                ":by": by}
        update: dict[str, Any] = {
            "Key": _member_key(space_id, user_id),
            "UpdateExpression": "SET space_id = :s, user_id = :u, #role = :role, role_changed_at = :now,"
                                " role_changed_by = :by",
            "ExpressionAttributeNames": {"#role": "role"},
        }
        if guard:
            update["ConditionExpression"] = _NOT_BANNED
            vals[":false"] = False
        update["ExpressionAttributeValues"] = values(vals)
        return {"Update": update}

    def _transact(self, writes: list[dict[str, Any]]) -> None:
        try:
            self.table.transact(writes)
        except TransactionCanceled as exc:
            if "ConditionalCheckFailed" in exc.codes:
                raise StageChanged(str(exc.codes)) from exc
            raise
