"""Request and response models for reminders and push devices."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.schemas import Out, Request
from chalicelib.domain.devices import Device
from chalicelib.domain.spaces import Space


class ReminderOut(Out):
    space_id: str
    reminder_set: bool = Field(description="whether the caller will be notified when the Space starts")
    subscriber_count: int = Field(description="reminders set plus tickets sold, on the Space")

    @classmethod
    def of(cls, space: Space, reminder_set: bool) -> ReminderOut:
        return cls(space_id=space.id, reminder_set=reminder_set, subscriber_count=space.subscriber_count)


class DeviceIn(Request):
    platform: Literal["apns", "fcm"] = Field(description="`apns` (iOS) or `fcm` (Android)")
    token: str = Field(min_length=1, max_length=4096,
                       description="the APNs device token (hex) or the FCM registration token")


class DeviceOut(Out):
    id: str = Field(description="stable for this platform and token; use it to unregister")
    platform: Literal["apns", "fcm"]
    created_at: datetime

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls(id=device.id, platform=device.platform, created_at=device.created_at)
