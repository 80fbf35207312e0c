"""Audiences past one media node (issue 16, ``domain/hls.py``): the WebRTC cap a listener's join
meets, the HLS link past it, the live playlist that link answers, and the seats the media
server's webhooks release.

Seats are claimed when a listener joins (``JoinService``), confirmed when the media server
reports their connection and freed when it leaves (``MediaEventService``). A seat nobody
connected to (the app closed between join and connect) is freed once its grace period
(``Settings.webrtc_seat_grace_seconds``) has passed, lazily: a join that finds the Space full
sweeps such seats (at most one sweep per Space every ``SWEEP_EVERY``) and tries once more. Only
a full Space needs the seat back, so nothing runs on a schedule and Spaces under the cap pay
nothing. A confirmed seat is never swept.

The stage is outside the cap: the host, co-hosts and speakers never take a listener seat and
are never refused for the cap, so a promoted HLS listener who joins again gets WebRTC, and a
WebRTC listener going on stage gives their seat back. A speaker demoted while connected keeps
their WebRTC connection and takes a seat again, past the cap if it is full, rather than being
moved to HLS: their connection is already carried by the node (it only stops publishing, which
lightens it), a move would cut their audio for seconds and put them 6-12 s behind the stage
they were just on, and the overshoot is bounded by the stage's size and drains as listeners
leave (newcomers get HLS until then). A speaker demoted while not connected is a listener like
any other: their next join takes a free seat or answers HLS.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Banned, NotFound, Unauthenticated, UpstreamUnavailable
from chalicelib.domain.hls import live_playlist, live_playlist_key, read_listen_token, sign_listen_token
from chalicelib.domain.media import HlsGrant
from chalicelib.domain.recordings import MEDIA_AGENT_NAME, PresignUri
from chalicelib.domain.roles import Member, Role
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import AudienceRepository, LiveSegmentLinks, MediaServer, MediaStore, MemberRepository
from chalicelib.services.worker_failures import report_worker_failure

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(seconds=5)  # at most one sweep of unconnected seats per Space this often


@dataclass
class Overflow:
    """Where a Space's WebRTC audience stops, and the HLS links past it."""

    audience: AudienceRepository
    media: MediaServer
    cap: int
    link_key: Callable[[], str]  # the HMAC key of listen links (read when used: secrets rotate)
    link_ttl: timedelta = timedelta(minutes=10)
    base_url: str = ""  # where the API is publicly reached; empty: the link is a path on it
    seat_grace: timedelta = timedelta(seconds=90)  # a seat nobody connected to for this long is freed

    def seat(self, space: Space, user_id: str, role: Role) -> bool:
        """Whether this joiner gets WebRTC: always on the stage; a listener if a seat is theirs,
        or once seats nobody connected to are swept from a full Space."""
        if role is not Role.listener:
            return True
        now = utcnow()
        if self.audience.claim_seat(space.id, user_id, cap=self.cap, now=now):
            return True
        if space.seats_swept_at is not None and space.seats_swept_at > now - SWEEP_EVERY:
            return False  # swept lately (the conditional write below would refuse too)
        freed = self.audience.sweep_unconnected_seats(space.id, claimed_before=now - self.seat_grace, now=now,
                                                      swept_before=now - SWEEP_EVERY)
        if freed:
            log.info("freed %d WebRTC seats nobody connected to in %s", freed, space.id)
        return freed > 0 and self.audience.claim_seat(space.id, user_id, cap=self.cap, now=now)

    def moved_on_stage(self, space: Space, user_id: str, before: Role, to: Role, *, connected: bool) -> None:
        """A role change of a live Space: going on stage gives the listener seat back; a demotion
        while connected takes one again, past the cap if need be (see the module's docstring)."""
        if before is Role.listener and to is not Role.listener:
            self.audience.release_seat(space.id, user_id, None)
        elif to is Role.listener and before is not Role.listener and connected:
            self.audience.confirm_seat(space.id, user_id, None, utcnow())

    def hls_grant(self, space: Space, user_id: str) -> HlsGrant:
        """The live stage as HLS; the first overflow turns the worker's live HLS on (and sends the
        worker in, should nothing else have needed it)."""
        if not space.hls_live and self.audience.open_hls(space.id):
            try:
                self.media.dispatch_agent(space.id, MEDIA_AGENT_NAME, {"space_id": space.id})
            except UpstreamUnavailable:
                log.warning("media worker dispatch to %s for HLS failed", space.id, exc_info=True)
                report_worker_failure("dispatch_failed", space.id)
        expires_at = (utcnow() + self.link_ttl).replace(microsecond=0)
        token = sign_listen_token(self.link_key(), space.id, user_id, expires_at)
        url = f"{self.base_url.rstrip('/')}/v1/spaces/{quote(space.id)}/live.m3u8?token={quote(token)}"
        return HlsGrant(hls_url=url, role=Role.listener.as_name, expires_at=expires_at)


@dataclass
class LiveHlsService:
    """``GET /v1/spaces/{id}/live.m3u8``: the worker's live playlist for one HLS listener, with
    presigned segment URLs, and the listener counted (``domain/hls.py``)."""

    members: MemberRepository
    store: MediaStore
    audience: AudienceRepository
    link_key: Callable[[], str]
    segments: LiveSegmentLinks

    def playlist(self, space_id: str, token: str) -> str:
        now = utcnow()
        user_id = read_listen_token(self.link_key(), token, space_id, now)
        if user_id is None:
            raise Unauthenticated("this HLS link is not valid or has expired: join the Space again")
        space, member = self.members.space_and_member(space_id, user_id)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        if _banned(member):
            raise Banned("you were removed from this Space")
        if space.state is SpaceState.live:
            try:
                self.audience.saw_hls_listener(space.id, user_id, now)
            except UpstreamUnavailable:
                log.warning("could not count an HLS listener of %s", space.id, exc_info=True)
        key = live_playlist_key(space.id)
        text = self.store.read_text(key)
        return live_playlist(text, resolve=PresignUri(key, lambda k: self.segments.link(k, now)))


@dataclass
class PresignedSegmentLinks:
    """Live segments straight from the media store: a presigned URL per listener and segment
    (no CDN configured; every fetch reaches S3)."""

    store: MediaStore
    ttl: timedelta

    def link(self, key: str, now: datetime) -> str:
        return self.store.presign_get(key, self.ttl)


def _banned(member: Member | None) -> bool:
    return member is not None and member.banned
