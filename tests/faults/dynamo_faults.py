"""DynamoDB faults injected at the botocore layer, below our adapter and above the emulator.

``DynamoFaults.install(client)`` hooks a boto3 DynamoDB client's own event system: ``before-call``
counts each write call (PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem),
``before-send`` answers chosen attempts with a DynamoDB error response instead of sending them.
botocore's retry handler sees those exactly as a real throttle or 500, so its backoff and attempt
limit (``adapters/aws_clients.py``: standard mode, 4 attempts) are what is exercised.

botocore offers ``before-send`` to every handler and uses the first answer; moto's in-process
stub is one of them and would still apply the write. So while an answer is injected the request
is turned into a harmless ``ListTables`` for the handlers after ours, and restored by a handler
registered last (the same request object is re-sent on retry).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


@dataclass
class DynamoFaults:
    """``transient``: each write call's first ``transient`` attempts fail (then it goes through).
    ``fail_call``: the write call with this 1-based number fails on every attempt."""

    code: str = "ProvisionedThroughputExceededException"
    status: int = 400
    transient: int = 0
    fail_call: int | None = None
    calls: int = 0
    attempts: int = 0
    injected: int = 0
    ops: list[str] = field(default_factory=list)
    _saved: tuple[Any, Any] | None = None

    def install(self, client: Any) -> DynamoFaults:
        client.meta.events.register_first("before-call.dynamodb", self._before_call)
        client.meta.events.register_first("before-send", self._before_send)
        client.meta.events.register_last("before-send", self._restore)
        return self

    def reset(self, **plan: Any) -> None:
        self.calls = self.attempts = self.injected = 0
        self.ops = []
        self.transient, self.fail_call = plan.get("transient", 0), plan.get("fail_call")
        self.code, self.status = plan.get("code", self.code), plan.get("status", self.status)

    def _before_call(self, model: Any, **_: Any) -> None:
        if model.name in WRITES:
            self.calls += 1
            self.attempts = 0
            self.ops.append(model.name)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        if not event_name.startswith("before-send.dynamodb.") or event_name.rsplit(".", 1)[-1] not in WRITES:
            return None
        self.attempts += 1
        if self.attempts <= self.transient or self.calls == self.fail_call:
            self.injected += 1
            from botocore.awsrequest import AWSResponse

            self._saved = (request.headers.get("X-Amz-Target"), request.body)
            request.headers["X-Amz-Target"] = "DynamoDB_20120810.ListTables"
            request.body = b"{}"

            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}",
                               "message": "injected by the fault suite"}).encode()
            return AWSResponse(request.url, self.status, {"Content-Type": "application/x-amz-json-1.0",
                                                          "x-amzn-RequestId": "fault"}, _Raw(body))
        return None

    def _restore(self, request: Any, **_: Any) -> None:
        if self._saved is not None:
            target, body = self._saved
            request.headers["X-Amz-Target"] = target
            request.body = body
            self._saved = None
