"""Moderation records in the single table: a Space's moderation log, reports, personal blocks.

``SPACE#<id>/MODLOG#<time>#<entry>``: the log, newest first by one Query, expiring by TTL with
the chat. ``REPORT#<id>/REPORT``: a report, listed for admins through GSI1 ``REPORTS`` by time.
``USER#<id>/BLOCK#<blocked>``: a block; whether any of a Space's hosts blocks someone is one
batch read of their block items.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.moderation import Block, LogWrite, ModerationAction, ModerationEntry, Report
from chalicelib.domain.pages import Page, PageRequest


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith(("PK", "SK", "GSI")) and k != "expires_at"}


def _log_item(entry: ModerationEntry, expires_at: int) -> dict[str, Any]:
    return {"PK": keys.space_pk(entry.space_id), "SK": keys.modlog_sk(entry.at.isoformat(), entry.id),
            **entry.model_dump(mode="json"), "expires_at": expires_at}


def _held_sk(entry: ModerationEntry) -> str:
    return keys.modheld_sk(entry.action.value, entry.target_user_id or "")


def _held_write(item: dict[str, Any]) -> LogWrite:
    return LogWrite(ModerationEntry.model_validate(_plain(item)), expires_at=int(item["expires_at"]))


def write_logged(table: Table, write: dict[str, Any], log: LogWrite | None) -> bool:
    """One conditional write (a ``TransactWriteItems`` entry) and the moderation-log entry that
    records it, in one transaction: both or neither. False when the write's condition failed
    (the action changed nothing, so nothing is logged)."""
    writes = [write] if log is None else [write, {"Put": {"Item": serialize(_log_item(log.entry, log.expires_at))}}]
    try:
        table.transact(writes)
    except TransactionCanceled as exc:
        if exc.failed(0):
            return False
        raise
    return True


class DynamoModerationLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record(self, entry: ModerationEntry, *, expires_at: int) -> None:
        self.table.put(_log_item(entry, expires_at))

    # -- entries held while their action runs outside the table --------------------------------
    def hold(self, write: LogWrite) -> LogWrite:
        """Hold ``write`` for its action and target unless an entry is held for them already (an
        earlier attempt's, or a racing one's): answers the entry now held."""
        entry = write.entry
        item = {**_log_item(entry, write.expires_at), "SK": _held_sk(entry)}
        try:
            self.table.put(item, ConditionExpression="attribute_not_exists(PK)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            if exc.old is None:  # a database that does not answer the item: read it
                return self.held(entry.space_id, entry.action, entry.target_user_id) or write
            return _held_write(exc.old)
        return write

    def held(self, space_id: str, action: ModerationAction, target: str | None) -> LogWrite | None:
        item = self.table.get(keys.space_pk(space_id), keys.modheld_sk(action.value, target or ""), consistent=True)
        return _held_write(item) if item else None

    def commit(self, write: LogWrite) -> None:
        """Log the held entry and stop holding it, in one transaction (a hold that is gone or
        another's stays as it is: the entry is logged all the same)."""
        entry = write.entry
        release = {"Delete": {"Key": keys.key(keys.space_pk(entry.space_id), _held_sk(entry)),
                              "ConditionExpression": "attribute_not_exists(PK) OR id = :id",
                              "ExpressionAttributeValues": values({":id": entry.id})}}
        if not write_logged(self.table, release, write):
            self.record(entry, expires_at=write.expires_at)

    def release(self, write: LogWrite) -> None:
        """Stop holding ``write`` without logging it (its action did not happen)."""
        entry = write.entry
        try:
            self.table.delete(keys.space_pk(entry.space_id), _held_sk(entry), ConditionExpression="id = :id",
                              ExpressionAttributeValues=values({":id": entry.id}))
        except ConditionFailed:
            pass

    def page(self, space_id: str, page: PageRequest) -> Page[ModerationEntry]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :log)",
            ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":log": keys.MODLOG}),
            ScanIndexForward=False, limit=page.limit, start_key=page.start)
        return Page([ModerationEntry.model_validate(_plain(i)) for i in items], last)


class DynamoReports:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, report: Report) -> None:
        self.table.put({"PK": keys.report_pk(report.id), "SK": keys.REPORT, "GSI1PK": keys.REPORTS_GSI1,
                        "GSI1SK": f"{report.created_at.isoformat()}#{report.id}", **report.model_dump(mode="json")},
                       ConditionExpression="attribute_not_exists(PK)")

    def page(self, page: PageRequest) -> Page[Report]:
        """Every report, newest first."""
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.REPORTS_GSI1}), ScanIndexForward=False,
            limit=page.limit, start_key=page.start)
        return Page([Report.model_validate(_plain(i)) for i in items], last)


class DynamoBlocks:
    def __init__(self, table: Table) -> None:
        self.table = table

    def block(self, user_id: str, blocked: str, now: datetime) -> bool:
        """False when ``user_id`` already blocked ``blocked``."""
        try:
            self.table.put({"PK": keys.user_pk(user_id), "SK": keys.block_sk(blocked), "user_id": user_id,
                            "blocked_user_id": blocked, "created_at": now.isoformat()},
                           ConditionExpression="attribute_not_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def unblock(self, user_id: str, blocked: str) -> bool:
        try:
            self.table.delete(keys.user_pk(user_id), keys.block_sk(blocked), ConditionExpression="attribute_exists(PK)")
        except ConditionFailed:
            return False
        return True

    def page(self, user_id: str, page: PageRequest) -> Page[Block]:
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :block)",
            ExpressionAttributeValues=values({":pk": keys.user_pk(user_id), ":block": keys.BLOCK}),
            limit=page.limit, start_key=page.start)
        return Page([Block.model_validate(_plain(i)) for i in items], last)

    def blockers_among(self, user_id: str, candidates: Sequence[str]) -> set[str]:
        """Which of ``candidates`` block ``user_id`` (one batch read)."""
        wanted = [c for c in dict.fromkeys(candidates) if c != user_id]
        if not wanted:
            return set()
        found = self.table.batch_get((keys.user_pk(c), keys.block_sk(user_id)) for c in wanted)
        return {str(i["user_id"]) for i in found}
