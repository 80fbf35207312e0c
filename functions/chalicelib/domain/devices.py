"""Push targets: which platforms exist and what a well-formed device token looks like.

APNs device tokens are hex (32 bytes today; Apple asks not to rely on the length, so any even
length from 32 to 100 bytes is accepted). FCM registration tokens are long URL-safe strings with
``:``. A malformed token is refused before it reaches SNS.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.errors import field_error

Platform = Literal["apns", "fcm"]
PLATFORMS: tuple[str, ...] = ("apns", "fcm")
MAX_DEVICES_PER_USER = 10

_APNS = re.compile(r"^(?:[0-9a-f]{2}){32,100}$")
_FCM = re.compile(r"^[A-Za-z0-9_:-]{64,4096}$")
# the tokens as a client sends them (hex digits in either case; the API keeps them lower case)
APNS_TOKEN = r"^(?:[0-9A-Fa-f]{2}){32,100}$"
FCM_TOKEN = _FCM.pattern


class Device(BaseModel):
    id: str
    platform: Platform
    endpoint_arn: str
    created_at: datetime


def clean_token(platform: str, token: str) -> str:
    """The token in canonical form, or a 400 naming ``token``."""
    token = token.strip()
    if platform == "apns":
        token = token.replace(" ", "").replace("<", "").replace(">", "").lower()
        if not _APNS.match(token):
            raise field_error("token", "an APNs device token is 64 to 200 hexadecimal characters")
        return token
    if platform == "fcm":
        if not _FCM.match(token):
            raise field_error("token", "an FCM registration token is 64 to 4096 characters of "
                                       "A-Z, a-z, 0-9, '-', '_' and ':'")
        return token
    raise field_error("platform", f"must be one of {', '.join(PLATFORMS)}")


def check_platform(platform: str) -> Platform:
    """The platform as one the contract knows, or a 400 naming ``platform``."""
    if platform == "apns":
        return "apns"
    if platform == "fcm":
        return "fcm"
    raise field_error("platform", f"must be one of {', '.join(PLATFORMS)}")


def device_id(platform: str, token: str) -> str:
    """The same device (platform + token) always has the same id, whoever registers it."""
    return "dv_" + hashlib.sha256(f"{platform}:{token}".encode()).hexdigest()[:24]
