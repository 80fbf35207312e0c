"""Verified payment events that did not match what we hold, kept for ops.

``OPS#payments/<received at>#<event id>``: one item per anomaly, newest last, expiring after
``ANOMALY_TTL_SECONDS``. Writing one changes nothing else: no ticket, seat, ledger line or
earnings moves on an event that does not match.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.table import Table, values
from chalicelib.domain.payments import PaymentAnomaly

ANOMALY_PK = "OPS#payments"
ANOMALY_TTL_SECONDS = 90 * 24 * 3600


class DynamoPaymentAnomalies:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record(self, anomaly: PaymentAnomaly) -> None:
        item: dict[str, Any] = {
            "PK": ANOMALY_PK, "SK": f"{anomaly.at:012d}#{anomaly.event_id}", "event_id": anomaly.event_id,
            "type": anomaly.type, "endpoint": anomaly.endpoint, "reason": anomaly.reason, "at": anomaly.at,
            "details": {k: v for k, v in anomaly.details.items() if v is not None},
            "expires_at": anomaly.at + ANOMALY_TTL_SECONDS,
        }
        if anomaly.space_id:
            item["space_id"] = anomaly.space_id
        if anomaly.ticket_id:
            item["ticket_id"] = anomaly.ticket_id
        self.table.put(item)

    def recent(self, limit: int = 100) -> list[PaymentAnomaly]:
        """The newest ``limit`` anomalies, newest first."""
        items, _ = self.table.query(KeyConditionExpression="PK = :pk", ExpressionAttributeValues=values({":pk": ANOMALY_PK}),
                                    ScanIndexForward=False, limit=limit)
        return [PaymentAnomaly(event_id=i["event_id"], type=i["type"], endpoint=i["endpoint"], reason=i["reason"],
                               at=int(i["at"]), space_id=i.get("space_id"), ticket_id=i.get("ticket_id"),
                               details={k: (int(v) if not isinstance(v, str) else v)
                                        for k, v in (i.get("details") or {}).items()})
                for i in items]
