"""Joining a live Space: who is admitted, with which role, and the media credentials they get.

Tokens are signed here, without a call to the media server. One exception: when the host or a
co-host (re)joins, the room is opened again (idempotent) in case the media server lost it (it
was restarted: its rooms are gone, and it creates none on a join). So after a LiveKit restart a
live Space comes back as soon as its host's app asks for fresh credentials, and listeners can
rejoin it. If the server is unreachable then, the moderator still gets a token.

Past the Space's WebRTC cap (``services/overflow.py``) a listener's join answers HLS instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chalicelib.domain.errors import Banned, NotFound, TicketRequired, UpstreamUnavailable
from chalicelib.domain.media import HlsGrant, JoinGrant
from chalicelib.domain.roles import Member, Role, check_admission, needs_ticket
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import BlockList, MediaServer, MemberRepository, Metrics, TicketGate
from chalicelib.services.overflow import Overflow

log = logging.getLogger(__name__)


@dataclass
class JoinService:
    members: MemberRepository
    media: MediaServer
    tickets: TicketGate
    blocks: BlockList | None = field(default=None, kw_only=True)
    overflow: Overflow | None = field(default=None, kw_only=True)  # None: no WebRTC cap
    metrics: Metrics | None = field(default=None, kw_only=True)

    def admit(self, space: Space, user_id: str, member: Member | None) -> Role:
        """The caller's role if they may be in the live Space: not banned, not blocked by its host
        or a co-host, and on a ticketed Space a paid ticket unless they are on the stage (host,
        co-host, invited speaker)."""
        role = check_admission(space, user_id, member)
        if role is not Role.host and self.blocks is not None and self.blocks.blockers_among(user_id, [space.host_id, *space.cohost_ids]):
            raise Banned("the host of this Space blocked you")
        if needs_ticket(space, role) and not self.tickets.has_paid_ticket(space.id, user_id):
            raise TicketRequired("this Space is ticketed: buy a ticket to join",
                                 details={"space_id": space.id})
        return role

    def join(self, user_id: str, space_id: str) -> JoinGrant | HlsGrant:
        space, member = self.members.space_and_member(space_id, user_id)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        role = self.admit(space, user_id, member)
        if role in (Role.host, Role.cohost):
            try:
                self.media.create_room(space.id)
            except UpstreamUnavailable as exc:
                log.warning("could not re-open the room of %s for its moderator: %s", space.id, exc.message)
        grant: JoinGrant | HlsGrant
        if self.overflow is not None and not self.overflow.seat(space, user_id, role):
            grant = self.overflow.hls_grant(space, user_id)
        else:
            grant = self.credentials(space, user_id, role)
        self._count(role, grant)
        return grant

    def _count(self, role: Role, grant: JoinGrant | HlsGrant) -> None:
        if self.metrics is None:
            return
        self.metrics.joined(role.as_name)
        if role is Role.listener:
            self.metrics.listener_joined("hls" if isinstance(grant, HlsGrant) else "webrtc")

    def moved_on_stage(self, space: Space, user_id: str, before: Role, to: Role, *, connected: bool) -> None:
        """A live Space's role change, for the WebRTC seats (``Overflow.moved_on_stage``). A seat
        left held by a failure here is freed when that connection leaves, so the role change
        stands and is not undone for it."""
        if self.overflow is None:
            return
        try:
            self.overflow.moved_on_stage(space, user_id, before, to, connected=connected)
        except UpstreamUnavailable:
            log.warning("could not move the WebRTC seat of %s in %s (%s -> %s)", user_id, space.id,
                        before.value, to.value, exc_info=True)

    def credentials(self, space: Space, user_id: str, role: Role) -> JoinGrant:
        token, expires_at = self.media.join_token(space.id, user_id, role.value)
        return JoinGrant(livekit_url=self.media.client_url, token=token, role=role.as_name, expires_at=expires_at)

    def host_credentials(self, space: Space) -> JoinGrant | None:
        """What a Space's create/start answer carries for its host: credentials once it is live."""
        if space.state is not SpaceState.live:
            return None
        return self.credentials(space, space.host_id, Role.host)
