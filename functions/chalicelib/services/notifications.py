"""Push notifications: registering devices, and sending one push to many users' devices.

An endpoint SNS reports disabled (the app was uninstalled, the token expired) is dropped from
its owner and deleted, so it is never tried again.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chalicelib.domain.clock import utcnow
from chalicelib.domain.devices import Device, check_platform, clean_token, device_id
from chalicelib.domain.errors import NotFound, field_error
from chalicelib.domain.notifications import Push
from chalicelib.ports import DeviceRepository, PushGateway

log = logging.getLogger(__name__)
_SENDERS = 8


@dataclass
class DeviceService:
    devices: DeviceRepository
    push: PushGateway

    def register(self, user_id: str, platform: str, token: str) -> tuple[Device, bool]:
        """Register a push target; returns it and whether it is new for this user."""
        checked = check_platform(platform)
        token = clean_token(checked, token)
        if not self.push.offers(platform):
            raise field_error("platform", f"{platform} push is not offered by this deployment")
        arn = self.push.register(platform, token)
        device = Device(id=device_id(checked, token), platform=checked, endpoint_arn=arn, created_at=utcnow())
        created = self.devices.save(user_id, device)
        return device, created

    def unregister(self, user_id: str, device_id_: str) -> None:
        device = self.devices.get(user_id, device_id_)
        if device is None or not self.devices.remove(user_id, device_id_):
            raise NotFound(f"no device {device_id_}")
        self.push.forget(device.endpoint_arn)


@dataclass
class Notifier:
    devices: DeviceRepository
    push: PushGateway

    def send(self, user_ids: list[str], message: Push) -> int:
        """Push ``message`` to every device of ``user_ids``; returns how many were delivered to SNS."""
        targets = [(user, device) for user, devices in self.devices.of_users(list(dict.fromkeys(user_ids))).items()
                   for device in devices]
        if not targets:
            return 0

        def one(target: tuple[str, Device]) -> bool:
            user, device = target
            if self.push.publish(device.endpoint_arn, message):
                return True
            log.info("dropping disabled push endpoint %s of %s", device.id, user)
            self.devices.remove(user, device.id)
            self.push.forget(device.endpoint_arn)
            return False

        with ThreadPoolExecutor(max_workers=min(_SENDERS, len(targets))) as pool:
            return sum(pool.map(one, targets))
