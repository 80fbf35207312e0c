"""Pinned content: the host or a co-host pins a short text and/or an http(s) link to a Space;
a live room is told on ``airwaves.pin`` with ``{space_id, pinned}`` (``pinned`` null: unpinned)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain.clock import to_rfc3339, utcnow
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.moderation import ModerationAction
from chalicelib.domain.pages import JsonObject
from chalicelib.domain.pins import TOPIC_PIN, Pin, make_pin
from chalicelib.domain.roles import require_moderator
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import MediaServer, PinStore, SpaceRepository
from chalicelib.services.safety import ModerationRecords

log = logging.getLogger(__name__)


def pin_json(pin: Pin | None) -> JsonObject | None:
    if pin is None:
        return None
    return {"text": pin.text, "url": pin.url, "pinned_by": pin.pinned_by, "pinned_at": to_rfc3339(pin.pinned_at)}


@dataclass
class PinService:
    spaces: SpaceRepository
    pins: PinStore
    media: MediaServer
    records: ModerationRecords

    def pin(self, caller: str, space_id: str, text: str | None, url: str | None) -> Space:
        pin = make_pin(text, url, by=caller, now=utcnow())
        require_moderator(self.spaces.require(space_id), caller)
        return self._apply(caller, space_id, pin)

    def unpin(self, caller: str, space_id: str) -> Space:
        require_moderator(self.spaces.require(space_id), caller)
        return self._apply(caller, space_id, None)

    def _apply(self, caller: str, space_id: str, pin: Pin | None) -> Space:
        action = ModerationAction.pin if pin else ModerationAction.unpin
        space = self.pins.set_pin(space_id, pin, log=self.records.entry(space_id, action, caller))
        if space.state is SpaceState.live:
            try:
                self.media.send_data(space.id, TOPIC_PIN, {"space_id": space.id, "pinned": pin_json(space.pinned)})
            except UpstreamUnavailable:  # the Space carries the pin: a client that missed it reads it there
                log.warning("pin notice for %s not delivered", space.id)
        return space
