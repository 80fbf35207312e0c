"""SQS: the fan-out work queue. Messages are JSON objects; sends go in batches of ten.

The queue URL is looked up by name once per container unless configured. A message SQS refuses
raises ``UpstreamUnavailable`` (the caller decides whether that fails its request).
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.errors import UpstreamUnavailable

from .aws_clients import make_client

BATCH = 10


class SqsQueue:
    def __init__(self, *, name: str, url: str = "", region: str = "us-east-1", client: Any = None) -> None:
        self.name = name
        self._url = url
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("sqs", self._region)
        return self._client

    @property
    def url(self) -> str:
        if not self._url:
            self._url = self._call("get_queue_url", QueueName=self.name)["QueueUrl"]
        return self._url

    def send(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), BATCH):
            entries = [{"Id": str(n), "MessageBody": json.dumps(m, sort_keys=True, default=str)}
                       for n, m in enumerate(messages[start:start + BATCH])]
            out = self._call("send_message_batch", QueueUrl=self.url, Entries=entries)
            if out.get("Failed"):
                raise UpstreamUnavailable(f"the queue refused {len(out['Failed'])} message(s)")

    def delete(self, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), BATCH):
            entries = [{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(receipt_handles[start:start + BATCH])]
            self._call("delete_message_batch", QueueUrl=self.url, Entries=entries)

    def depth(self) -> int:
        out = self._call("get_queue_attributes", QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(out["Attributes"]["ApproximateNumberOfMessages"])

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamUnavailable(f"the work queue failed ({operation})") from exc
