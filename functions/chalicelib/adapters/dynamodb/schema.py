"""The single table's key schema: the one definition shared by the local stack, tests and the
deployment template test (which checks ``template.yaml`` declares the same keys and indexes)."""
from __future__ import annotations

from typing import Any

KEY_ATTRIBUTES = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"]
INDEXES = {"GSI1": ("GSI1PK", "GSI1SK"), "GSI2": ("GSI2PK", "GSI2SK")}
TTL_ATTRIBUTE = "expires_at"


def create_table_params(table_name: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in KEY_ATTRIBUTES],
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, (pk, sk) in INDEXES.items()
        ],
    }


def ensure_table(client: Any, table_name: str) -> None:
    """Create the table (and its TTL) if it is missing; used by the local stack and tests."""
    existing = client.list_tables().get("TableNames", [])
    if table_name in existing:
        return
    client.create_table(**create_table_params(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
