"""The local emulator answers each DynamoDB request atomically, as the real service does.

moto's handlers deep-copy and serialise live items outside its backend, so the lock must cover
the whole request: a CI run once failed with "dictionary changed size during iteration" when an
``update_item`` copied an item another thread was updating.
"""
from __future__ import annotations

import boto3
import pytest

from infra.local import stage


@pytest.fixture
def items_touched_without_the_lock(aws, monkeypatch):
    """Every copy or serialisation of a stored item, recorded as whether the lock was held."""
    from moto.dynamodb.models.dynamo_type import Item

    held: list[bool] = []
    deepcopy, to_json = Item.__deepcopy__, Item.to_json

    def recording_deepcopy(self, memo):
        held.append(stage._dynamo_lock._is_owned())  # type: ignore[attr-defined]
        return deepcopy(self, memo)

    def recording_to_json(self):
        held.append(stage._dynamo_lock._is_owned())  # type: ignore[attr-defined]
        return to_json(self)

    monkeypatch.setattr(Item, "__deepcopy__", recording_deepcopy)
    monkeypatch.setattr(Item, "to_json", recording_to_json)
    return held


def test_each_request_copies_and_serialises_items_under_the_lock(items_touched_without_the_lock):
    import os

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = os.environ["AIRWAVES_TABLE_NAME"]
    key = {"PK": {"S": "SPACE#s1"}, "SK": {"S": "META"}}
    client.put_item(TableName=table, Item={**key, "n": {"N": "1"}})
    client.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :one",
                       ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert client.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "2"}
    client.query(TableName=table, KeyConditionExpression="PK = :pk",
                 ExpressionAttributeValues={":pk": {"S": "SPACE#s1"}})
    held = items_touched_without_the_lock
    assert held and all(held), f"{held.count(False)} of {len(held)} item copies ran outside the lock"
