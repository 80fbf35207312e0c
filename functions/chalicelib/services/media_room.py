"""The media room follows its Space: opened when it goes live, closed (everyone disconnected)
when it ends. Both run before the state is stored, so a media failure leaves the Space as it was
and answers 503 (the first participant of ``lifecycle.SpaceLifecycle``)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.spaces import Space
from chalicelib.ports import MediaServer
from chalicelib.services.lifecycle import QuietParticipant


@dataclass
class MediaRoom(QuietParticipant):
    media: MediaServer

    def before_start(self, space: Space) -> None:
        self.media.create_room(space.id)

    def before_end(self, space: Space) -> None:
        self.media.delete_room(space.id)
