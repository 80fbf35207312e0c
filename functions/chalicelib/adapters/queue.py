"""SQS: the work queue. Each message is one job (``domain/jobs.py``) as JSON; sends go in batches
of ten.

The queue URL is looked up by name once per container unless configured. A message SQS refuses
raises ``UpstreamUnavailable`` (the caller decides whether that fails its request).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.aws_clients import make_client
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.jobs import Job, job_body

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

    @property
    def configured(self) -> bool:
        return bool(self.name or self._url)

    def send(self, jobs: Sequence[Job]) -> None:
        for start in range(0, len(jobs), BATCH):
            entries = [{"Id": str(n), "MessageBody": job_body(job)} for n, job in enumerate(jobs[start:start + BATCH])]
            out = self._call("send_message_batch", QueueUrl=self.url, Entries=entries)
            if out.get("Failed"):
                raise UpstreamUnavailable(f"the queue refused {len(out['Failed'])} message(s)")

    def delete(self, receipt_handles: Sequence[str]) -> None:
        for start in range(0, len(receipt_handles), BATCH):
            entries = [{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(receipt_handles[start:start + BATCH])]
            self._call("delete_message_batch", QueueUrl=self.url, Entries=entries)

    def depth(self) -> int:
        out = self._call("get_queue_attributes", QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(out["Attributes"]["ApproximateNumberOfMessages"])

    def ping(self) -> None:
        """The health probe: the queue answers."""
        self.depth()

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self.client, operation)(**params)
            return answer
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamUnavailable(f"the work queue failed ({operation})") from exc
