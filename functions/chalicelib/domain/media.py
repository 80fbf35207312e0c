"""What the media server tells us, as plain values (no SDK types cross into services)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.roles import RoleName


@dataclass(frozen=True)
class MediaParticipant:
    """Someone connected to a Space's room right now."""

    identity: str
    sid: str
    role: str | None  # the role their connection carries (token or last permission update)
    publishing: bool  # has a published microphone track
    muted: bool  # that track is muted (or there is none)
    joined_at: datetime | None = None


@dataclass(frozen=True)
class MediaEvent:
    """One verified webhook delivery from the media server."""

    id: str
    kind: str  # "participant_joined", "participant_left", "room_finished", ...
    room: str
    identity: str = ""
    sid: str = ""
    standard: bool = True  # a person's connection (not an egress, agent or ingress)
    role: str | None = None
    at: datetime | None = None
    track_sid: str = ""  # track_published / track_unpublished: the track
    track_kind: str = ""  # "audio", "video" or "data"


@dataclass(frozen=True)
class JoinGrant:
    """Credentials a client uses to connect to a Space's room."""

    livekit_url: str
    token: str
    role: RoleName
    expires_at: datetime


@dataclass(frozen=True)
class HlsGrant:
    """A listener past the Space's WebRTC cap: the live stage as HLS, at ``hls_url`` (a signed
    link) until ``expires_at``; joining again then gives a fresh link, or WebRTC if a seat is free."""

    hls_url: str
    role: RoleName
    expires_at: datetime
