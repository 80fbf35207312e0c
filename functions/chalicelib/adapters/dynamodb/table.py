"""A thin wrapper over the DynamoDB client: typed (de)serialisation, lazy client, and errors
re-raised as ours. Repositories build on it; nothing here knows about users or Spaces."""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from chalicelib.adapters.aws_clients import make_client
from chalicelib.domain.errors import UpstreamUnavailable

_codecs_cache: tuple[Any, Any] | None = None


def _codecs() -> tuple[Any, Any]:
    """boto3's (de)serializers, built on first use (boto3 stays off the cold path)."""
    global _codecs_cache
    if _codecs_cache is None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        _codecs_cache = (TypeSerializer(), TypeDeserializer())
    return _codecs_cache


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    ser, _ = _codecs()
    return {k: ser.serialize(v) for k, v in item.items() if v is not None}


def serialize_value(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _codecs()[0].serialize(value)
    return serialized


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    _, de = _codecs()
    return {k: _plain(de.deserialize(v)) for k, v in item.items()}


def values(mapping: dict[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues from plain Python values."""
    return {k: serialize_value(v) for k, v in mapping.items()}


class ConditionFailed(Exception):
    """A single-item write's condition did not hold; ``old`` is the item as it was (if asked for
    with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``)."""

    def __init__(self, old: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.old = old


class TransactionCanceled(Exception):
    """A transaction was canceled; ``codes[i]`` says why for item ``i`` (``"None"`` if fine)."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(f"transaction canceled: {codes}")
        self.codes = codes

    def failed(self, index: int) -> bool:
        return index < len(self.codes) and self.codes[index] == "ConditionalCheckFailed"


class TransactionConflict(UpstreamUnavailable):
    """A transaction was canceled only because another request was changing one of its items at
    the same time (``TransactionConflict``, no condition failed), or a single-item write hit an
    item inside a transaction (``TransactionConflictException``): nothing was written, so sending
    the same request again is safe. ``Table.transact``/``put``/``update``/``delete`` do, a bounded
    number of times; if it still conflicts it is a 503 like any other busy database."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__("a concurrent change conflicted; try again")
        self.codes = codes


def _reasons_from_message(exc: Any) -> list[dict[str, str]]:
    """Older emulators put the reasons only in the message: "... [None, ConditionalCheckFailed]"."""
    message = exc.response.get("Error", {}).get("Message", "")
    if "[" not in message:
        return []
    inner = message[message.rindex("[") + 1: message.rindex("]")]
    return [{"Code": part.strip()} for part in inner.split(",")]


class Table:
    """One DynamoDB table. The boto3 client is created on first use and reused by the container."""

    def __init__(self, name: str, *, client: Any = None, region: str = "us-east-1",
                 transaction_attempts: int = 5, transaction_backoff_ms: float = 20.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self._client = client
        self._region = region
        self.transaction_attempts = max(1, transaction_attempts)
        self.transaction_backoff_ms = transaction_backoff_ms
        self.sleep = sleep
        self.conflict_retries = 0  # transactions sent again after a TransactionConflict (for tests/ops)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("dynamodb", self._region)
        return self._client

    @property
    def configured(self) -> bool:
        return bool(self.name)

    def ping(self) -> None:
        """The health probe: the table answers."""
        self.call("describe_table")

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run a client operation; transport failures become 503 ``upstream_unavailable``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if operation not in ("transact_write_items", "batch_get_item", "batch_write_item"):
                params["TableName"] = self.name
            answer: dict[str, Any] = getattr(self.client, operation)(**params)
            return answer
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise ConditionFailed(deserialize(old) if old else None) from exc
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or _reasons_from_message(exc)
                codes = [r.get("Code", "None") for r in reasons]
                if "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes:
                    raise TransactionConflict(codes) from exc
                raise TransactionCanceled(codes) from exc
            if code == "TransactionConflictException":  # a single-item write hit an item in a transaction
                raise TransactionConflict([code]) from exc
            if code in ("ProvisionedThroughputExceededException", "ThrottlingException",
                        "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable"):
                raise UpstreamUnavailable("the database is busy; try again") from exc
            raise
        except BotoCoreError as exc:
            raise UpstreamUnavailable("the database cannot be reached") from exc

    def get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        out = self.call("get_item", Key=serialize({"PK": pk, "SK": sk}), ConsistentRead=consistent)
        return deserialize(out["Item"]) if "Item" in out else None

    def batch_get(self, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Items for ``keys`` in the order asked (missing ones left out)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            pending: dict[str, Any] = {
                self.name: {"Keys": [serialize({"PK": pk, "SK": sk}) for pk, sk in wanted[start:start + 100]]}
            }
            while pending:
                out = self.call("batch_get_item", RequestItems=pending)
                for raw in out.get("Responses", {}).get(self.name, []):
                    item = deserialize(raw)
                    found[(item["PK"], item["SK"])] = item
                pending = out.get("UnprocessedKeys") or {}
        return [found[k] for k in wanted if k in found]

    def put(self, item: dict[str, Any], **params: Any) -> dict[str, Any]:
        return self._retrying("put_item", Item=serialize(item), **params)

    def update(self, pk: str, sk: str, **params: Any) -> dict[str, Any]:
        return self._retrying("update_item", Key=serialize({"PK": pk, "SK": sk}), **params)

    def delete(self, pk: str, sk: str, **params: Any) -> dict[str, Any]:
        return self._retrying("delete_item", Key=serialize({"PK": pk, "SK": sk}), **params)

    def transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems; each entry is ``{"Put"|"Update"|"Delete"|"ConditionCheck": {...}}``
        without ``TableName`` (added here)."""
        for entry in items:
            for body in entry.values():
                body["TableName"] = self.name
        self._retrying("transact_write_items", TransactItems=items)

    def _retrying(self, operation: str, **params: Any) -> dict[str, Any]:
        """``call``, sent again after a TransactionConflict (nothing was written), at most
        ``transaction_attempts`` in all."""
        for attempt in range(1, self.transaction_attempts):
            try:
                return self.call(operation, **params)
            except TransactionConflict:
                self.conflict_retries += 1
                self.sleep(self._backoff(attempt))
        return self.call(operation, **params)

    def _backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: full jitter over an exponential ceiling
        (base * 2^(attempt-1), capped at 32 x base), so racers that conflicted spread out."""
        ceiling = self.transaction_backoff_ms * min(2 ** (attempt - 1), 32) / 1000.0
        return random.uniform(0, ceiling)

    def query(self, *, index: str | None = None, limit: int | None = None,
              start_key: dict[str, Any] | None = None, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a Query: (items, LastEvaluatedKey in plain form or None)."""
        if index:
            params["IndexName"] = index
        if limit:
            params["Limit"] = limit
        if start_key:
            params["ExclusiveStartKey"] = serialize(start_key)
        out = self.call("query", **params)
        last = out.get("LastEvaluatedKey")
        return [deserialize(i) for i in out.get("Items", [])], (deserialize(last) if last else None)
