"""Mobile push through SNS platform endpoints (APNs and FCM applications configured per stage).

``register`` turns a device token into an endpoint ARN: SNS answers with the existing endpoint for
a known token; one that SNS disabled (the token went stale, then the app re-registered it) is
replaced by a fresh one. ``publish`` answers False for a disabled or deleted endpoint so the
caller drops it; other failures are ``UpstreamUnavailable`` (the work is retried).
"""
from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.adapters.aws_clients import error_code, make_client
from chalicelib.domain.errors import UpstreamUnavailable, field_error
from chalicelib.domain.notifications import Push

_EXISTING = re.compile(r"(arn:[^ ]+:endpoint/[^ ]+?)\s+already exists")


def sns_message(push: Push) -> str:
    """One message for every platform (``MessageStructure=json``)."""
    apns = json.dumps({"aps": {"alert": {"title": push.title, "body": push.body}, "sound": "default"}, **push.data})
    fcm = json.dumps({"notification": {"title": push.title, "body": push.body}, "data": push.data})
    return json.dumps({"default": push.body, "APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm})


class SnsPush:
    def __init__(self, *, applications: dict[str, str], region: str = "us-east-1", client: Any = None) -> None:
        self.applications = {platform: arn for platform, arn in applications.items() if arn}
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("sns", self._region)
        return self._client

    def offers(self, platform: str) -> bool:
        return platform in self.applications

    def register(self, platform: str, token: str) -> str:
        app = self.applications.get(platform)
        if not app:
            raise field_error("platform", f"{platform} push is not offered by this deployment")
        try:
            arn = self._create(app, token)
        except _Conflict as conflict:
            self.forget(conflict.arn)
            arn = self._create(app, token)
        attributes = self._call("get_endpoint_attributes", EndpointArn=arn).get("Attributes", {})
        if str(attributes.get("Enabled", "true")).lower() == "false":
            self.forget(arn)
            arn = self._create(app, token)
        return arn

    def publish(self, endpoint_arn: str, message: Push) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call("publish", TargetArn=endpoint_arn, Message=sns_message(message), MessageStructure="json",
                       passthrough=(ClientError,))
            return True
        except ClientError as exc:
            if error_code(exc) in ("EndpointDisabled", "NotFound"):
                return False
            raise UpstreamUnavailable(f"push failed: {error_code(exc)}") from exc

    def forget(self, endpoint_arn: str) -> None:
        self._call("delete_endpoint", EndpointArn=endpoint_arn)

    @property
    def configured(self) -> bool:
        return bool(self.applications)

    def ping(self) -> None:
        for app in self.applications.values():
            self._call("get_platform_application_attributes", PlatformApplicationArn=app)

    def _create(self, app: str, token: str) -> str:
        from botocore.exceptions import ClientError

        try:
            out = self._call("create_platform_endpoint", PlatformApplicationArn=app, Token=token,
                             passthrough=(ClientError,))
            return str(out["EndpointArn"])
        except ClientError as exc:
            if error_code(exc) != "InvalidParameter":
                raise UpstreamUnavailable(f"push registration failed: {error_code(exc)}") from exc
            message = exc.response.get("Error", {}).get("Message", "")
            existing = _EXISTING.search(message)
            if existing:
                raise _Conflict(existing.group(1)) from exc
            raise field_error("token", "the push service refused this token") from exc

    def _call(self, operation: str, passthrough: tuple[type[BaseException], ...] = (), **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self.client, operation)(**params)
            return answer
        except passthrough:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamUnavailable(f"the push service failed ({operation})") from exc


class _Conflict(Exception):
    def __init__(self, arn: str) -> None:
        super().__init__(arn)
        self.arn = arn
