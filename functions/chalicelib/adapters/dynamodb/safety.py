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
from chalicelib.domain.moderation import Block, LogWrite, ModerationEntry, Report
from chalicelib.domain.pages import Page, PageRequest


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith(("PK", "SK", "GSI")) and k != "expires_at"}


def _log_item(entry: ModerationEntry, expires_at: int) -> dict[str, Any]:
    return {"PK": keys.space_pk(entry.space_id), "SK": keys.modlog_sk(entry.at.isoformat(), entry.id),
            **entry.model_dump(mode="json"), "expires_at": expires_at}


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
