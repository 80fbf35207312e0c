"""Push notifications: registering devices, and sending one push to many users' devices.

An endpoint SNS reports disabled (the app was uninstalled, the token expired) is dropped from
its owner and deleted, so it is never tried again.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chalicelib.domain.clock import utcnow
from chalicelib.domain.devices import Device, check_platform, clean_token, device_id
from chalicelib.domain.errors import AirwavesError, NotFound, RateLimited, field_error
from chalicelib.domain.notifications import Push
from chalicelib.ports import DeviceRepository, ProcessedEvents, PushGateway, RateLimiter
from chalicelib.services.idempotency import ClaimLease

log = logging.getLogger(__name__)
_SENDERS = 8
PUSH_SOURCE = "push"


@dataclass
class DeviceService:
    devices: DeviceRepository
    push: PushGateway
    limits: RateLimiter | None = None
    registrations_per_hour: int = 20

    def register(self, user_id: str, platform: str, token: str) -> tuple[Device, bool]:
        """Register a push target; returns it and whether it is new for this user. At most
        ``registrations_per_hour`` per person (each makes an SNS endpoint); the endpoints of
        devices evicted over the per-user cap are deleted, never left behind."""
        checked = check_platform(platform)
        token = clean_token(checked, token)
        if not self.push.offers(platform):
            raise field_error("platform", f"{platform} push is not offered by this deployment")
        self._take_registration(user_id)
        arn = self.push.register(platform, token)
        device = Device(id=device_id(checked, token), platform=checked, endpoint_arn=arn, created_at=utcnow())
        created, evicted = self.devices.save(user_id, device)
        for old in evicted:
            if old != arn:
                self.push.forget(old)
        return device, created

    def _take_registration(self, user_id: str) -> None:
        if self.limits is None:
            return
        now = int(utcnow().timestamp())
        window = now - now % 3600
        if not self.limits.take(f"devices#{user_id}", window_start=window, window_seconds=3600,
                                limit=self.registrations_per_hour):
            raise RateLimited(f"at most {self.registrations_per_hour} device registrations an hour",
                              details={"limit": self.registrations_per_hour, "window_seconds": 3600,
                                       "retry_after_seconds": max(1, window + 3600 - now)})

    def unregister(self, user_id: str, device_id_: str) -> None:
        device = self.devices.get(user_id, device_id_)
        if device is None or not self.devices.remove(user_id, device_id_):
            raise NotFound(f"no device {device_id_}")
        self.push.forget(device.endpoint_arn)


PUSH_DEDUPE_SECONDS = 7 * 24 * 3600  # well past SQS's retention of a retried message


@dataclass
class Notifier:
    """Sends a push at most once per person and occurrence (``Push.once_key``): queue messages
    and schedules arrive at least once, so each person's push is claimed before it is sent (with
    a lease, so a sender that dies lets a redelivery send it) and recorded as sent."""

    devices: DeviceRepository
    push: PushGateway
    sent: ProcessedEvents | None = None
    lease: ClaimLease = field(default_factory=lambda: ClaimLease(60))

    def send(self, user_ids: list[str], message: Push) -> int:
        """Push ``message`` to every device of ``user_ids``; returns how many were delivered to SNS."""
        return sum(self.deliver(user_ids, message).values())

    def deliver(self, user_ids: list[str], message: Push) -> dict[str, int]:
        """Push ``message`` to every device of ``user_ids``; how many devices each user got it on
        (users reached on none are left out)."""
        by_user = self.devices.of_users(list(dict.fromkeys(user_ids)))
        if self.sent is not None and message.once_key:
            by_user = {u: d for u, d in by_user.items() if d and self._claim(u, message.once_key)}
        targets = [(user, device) for user, devices in by_user.items() for device in devices]
        if not targets:
            return {}

        def one(target: tuple[str, Device]) -> bool:
            user, device = target
            if self.push.publish(device.endpoint_arn, message):
                return True
            log.info("dropping disabled push endpoint %s of %s", device.id, user)
            self.devices.remove(user, device.id)
            self.push.forget(device.endpoint_arn)
            return False

        try:
            with ThreadPoolExecutor(max_workers=min(_SENDERS, len(targets))) as pool:
                results = list(pool.map(one, targets))
        except BaseException:
            self._settle(list(by_user), message.once_key, sent=False)
            raise
        self._settle(list(by_user), message.once_key, sent=True)
        reached: dict[str, int] = {}
        for (user, _), ok in zip(targets, results, strict=True):
            if ok:
                reached[user] = reached.get(user, 0) + 1
        return reached

    def _claim(self, user_id: str, once_key: str) -> bool:
        assert self.sent is not None
        now = int(time.time())
        return self.sent.claim(PUSH_SOURCE, f"{once_key}#{user_id}", now=now, lease_until=self.lease.until(now)) == "claimed"

    def _settle(self, user_ids: list[str], once_key: str, *, sent: bool) -> None:
        if self.sent is None or not once_key:
            return
        for user in user_ids:
            try:
                if sent:
                    self.sent.complete(PUSH_SOURCE, f"{once_key}#{user}", expires_at=int(time.time()) + PUSH_DEDUPE_SECONDS)
                else:
                    self.sent.release(PUSH_SOURCE, f"{once_key}#{user}")
            except AirwavesError as exc:  # the lease ends by itself
                log.warning("could not settle push %s for %s: %s", once_key, user, exc.message)
