"""Request and response models for reminders and push devices."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from chalicelib.api.schemas import Out, Request
from chalicelib.domain.devices import APNS_TOKEN, FCM_TOKEN, Device
from chalicelib.domain.spaces import Space


class ReminderOut(Out):
    space_id: str
    reminder_set: bool = Field(description="whether the caller will be notified when the Space starts")
    subscriber_count: int = Field(description="reminders set plus tickets sold, on the Space")

    @classmethod
    def of(cls, space: Space, reminder_set: bool) -> ReminderOut:
        return cls(space_id=space.id, reminder_set=reminder_set, subscriber_count=space.subscriber_count)


class DeviceIn(Request):
    model_config = ConfigDict(json_schema_extra={"if": {"properties": {"platform": {"const": "apns"}}},
                                                 "then": {"properties": {"token": {"pattern": APNS_TOKEN}}},
                                                 "else": {"properties": {"token": {"pattern": FCM_TOKEN}}}})

    platform: Literal["apns", "fcm"] = Field(description="`apns` (iOS) or `fcm` (Android)")
    token: str = Field(min_length=1, max_length=4096,
                       description="the APNs device token (64 to 200 hex digits) or the FCM registration token "
                                   "(64 to 4096 of A-Z, a-z, 0-9, '-', '_' and ':')")

    @field_validator("token")
    @classmethod
    def _token_as_sent(cls, token: str, info: ValidationInfo) -> str:
        """The token exactly as the document says (the domain then canonicalizes it)."""
        apns = info.data.get("platform") == "apns"
        if not re.match(APNS_TOKEN if apns else FCM_TOKEN, token):
            raise ValueError("an APNs device token is 64 to 200 hex digits" if apns else
                             "an FCM registration token is 64 to 4096 of A-Z, a-z, 0-9, '-', '_' and ':'")
        return token


class DeviceOut(Out):
    id: str = Field(description="stable for this platform and token; use it to unregister")
    platform: Literal["apns", "fcm"]
    created_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls(id=device.id, platform=device.platform, created_at=device.created_at)
