"""What the media server reports (verified webhooks): presence counts, late corrections of a
connection's role or ban, non-audio tracks (muted), and rooms that closed by themselves.

Every step is idempotent, so LiveKit's retries, duplicates and out-of-order deliveries are
harmless: presence moves per connection through absent -> joined -> left only, a correction
re-applies what the database says, and ending an ended Space is a no-op.

WebRTC listener seats (``services/overflow.py``) follow presence: a counted connection of someone
the database holds a listener records itself on its seat (marking it used: never swept), and a counted leave frees the seat of that connection, so the seats
taken stay the listeners connected (plus those who joined and have not connected yet).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import InvalidState, NotFound
from chalicelib.domain.media import MediaEvent
from chalicelib.domain.roles import Member, Role, role_of
from chalicelib.domain.spaces import Space, SpaceState
from chalicelib.ports import AudienceRepository, EventLog, MediaServer, MemberRepository, PresenceRepository
from chalicelib.services.spaces import SpaceService

log = logging.getLogger(__name__)

LEFT_EVENTS = ("participant_left", "participant_connection_aborted")


@dataclass
class MediaEventService:
    members: MemberRepository
    presence: PresenceRepository
    media: MediaServer
    spaces: SpaceService  # ends a Space whose room closed by itself, as the system
    audience: AudienceRepository | None = field(default=None, kw_only=True)  # None: no WebRTC cap
    events: EventLog = field(kw_only=True)

    def receive(self, body: bytes, authorization: str | None) -> str:
        """One signed delivery, logged as one event under LiveKit's webhook id."""
        with self.events.handling("livekit") as handled:
            event = self.media.verify_webhook(body, authorization)
            handled.of_kind(event.kind)
            if event.id:
                handled.identify(event.id)
            outcome = self.handle(event)
            handled.outcome(outcome)
            return outcome

    def handle(self, event: MediaEvent) -> str:
        """Apply one event; answers what happened (for the response and the logs)."""
        if not event.room:
            return "ignored"
        if event.kind == "participant_joined" and event.standard and event.identity:
            counted = self.presence.joined(event.room, event.sid, event.identity, event.at or utcnow())
            space, member = self.members.space_and_member(event.room, event.identity)
            if counted and self.audience is not None and space is not None and role_of(space, event.identity) is Role.listener:
                # the role the database holds: a token minted before a promotion still says listener
                self.audience.confirm_seat(event.room, event.identity, event.sid, event.at or utcnow())
            corrected = self._correct(event, space, member)
            return corrected or ("counted" if counted else "duplicate")
        if event.kind in LEFT_EVENTS and event.standard and event.identity:
            left = self.presence.left(event.room, event.sid, event.identity, event.at or utcnow())
            if left and self.audience is not None:
                self.audience.release_seat(event.room, event.identity, event.sid)
            return "uncounted" if left else "duplicate"
        if event.kind == "track_published" and event.track_sid and event.track_kind != "audio":
            return self._refuse_track(event)
        if event.kind == "room_finished":
            try:
                self.spaces.end(None, event.room)
            except (InvalidState, NotFound):
                return "duplicate"
            return "ended"
        return "ignored"

    def _correct(self, event: MediaEvent, space: Space | None, member: Member | None) -> str | None:
        """A connection made with a token issued before a ban or role change gets what the
        database says now: removed if banned or the Space is over, else its current role."""
        if space is None:
            return None
        if space.state is not SpaceState.live or (member is not None and member.banned):
            self.media.remove_participant(event.room, event.identity)
            return "removed"
        role = role_of(space, event.identity).value
        if event.role != role:
            self.media.set_role(event.room, event.identity, role)
            return "role_corrected"
        return None

    def _refuse_track(self, event: MediaEvent) -> str:
        """Spaces are audio only. The room negotiates no video codec and tokens allow only the
        microphone source, but a client can label a video track as its microphone: any track
        that is not audio is muted on the server as soon as it is published."""
        log.warning("muting a %s track %s published by %s in %s (audio only)", event.track_kind,
                    event.track_sid, event.identity, event.room)
        self.media.mute_track(event.room, event.identity, event.track_sid)
        return "track_refused"
