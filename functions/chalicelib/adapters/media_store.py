"""Recorded media in S3, behind ``ports.MediaStore``.

The client is created on first use (boto3 stays off the cold path of routes that never touch
media) and signs with SigV4, so presigned URLs work in every region and for KMS-encrypted objects.
``AWS_ENDPOINT_URL`` (the local stack's moto server) applies here as for every other client.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.adapters.aws_clients import error_code
from chalicelib.domain.errors import UpstreamUnavailable

_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class S3MediaStore:
    def __init__(self, bucket: str, *, region: str) -> None:
        self.bucket = bucket
        self.region = region
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client("s3", region_name=self.region, config=Config(
                signature_version="s3v4", retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=2, read_timeout=10))
        return self._client

    @property
    def configured(self) -> bool:
        return bool(self.bucket)

    def _require(self) -> None:
        if not self.bucket:
            raise UpstreamUnavailable("recorded media is not configured (AIRWAVES_MEDIA_BUCKET)",
                                      details={"upstream": "s3"})

    def ping(self) -> None:
        self._require()
        self._s3("reach the media bucket", lambda client: client.list_objects_v2(
            Bucket=self.bucket, Prefix="spaces/", MaxKeys=1))

    def _s3(self, what: str, call: Any) -> Any:
        try:
            return call(self.client)
        except Exception as exc:
            raise UpstreamUnavailable(f"the media store failed to {what}", details={"upstream": "s3"}) from exc

    def presign_get(self, key: str, ttl: timedelta, *, download_name: str | None = None) -> str:
        self._require()
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        url: str = self.client.generate_presigned_url("get_object", Params=params,
                                                      ExpiresIn=int(ttl.total_seconds()))
        return url

    def read_text(self, key: str) -> str | None:
        self._require()
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise UpstreamUnavailable("the media store failed to read a playlist", details={"upstream": "s3"}) from exc
        text: str = answer["Body"].read().decode("utf-8")
        return text

    def exists(self, key: str) -> bool:
        self._require()
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise UpstreamUnavailable("the media store failed to look up an object", details={"upstream": "s3"}) from exc

    def put_text(self, key: str, text: str, content_type: str) -> None:
        self._require()
        self._s3("write a playlist", lambda client: client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                                                             ContentType=content_type))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a page of keys, then one batch delete per page)."""
        self._require()
        deleted = 0
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            listed = self._s3("list recorded media", lambda client, kw=kwargs: client.list_objects_v2(**kw))
            keys = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
            for i in range(0, len(keys), _DELETE_BATCH):
                batch = keys[i:i + _DELETE_BATCH]
                answer = self._s3("delete recorded media", lambda client, b=batch: client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": b, "Quiet": True}))
                if answer.get("Errors"):
                    raise UpstreamUnavailable("the media store refused to delete some objects",
                                              details={"upstream": "s3", "failed": len(answer["Errors"])})
                deleted += len(batch)
            if not listed.get("IsTruncated"):
                return deleted
            token = listed.get("NextContinuationToken")
