"""Use cases for a Space's life: create, edit, start, end, cancel, read and list."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import Forbidden, InvalidState, NotEligible, field_error
from chalicelib.domain.languages import DEFAULT_LANGUAGE
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.spaces import (
    Action,
    MediaOptions,
    Space,
    SpaceState,
    Ticketing,
    TicketOffer,
    check_schedule,
    clean_title,
    clean_topics,
    next_state,
    normalize_topic,
)
from chalicelib.domain.tickets import check_ticket_offer
from chalicelib.domain.users import HostingPolicy, User, eligibility
from chalicelib.ports import SpaceRepository, UserRepository
from chalicelib.services.following_feed import FollowingFeed
from chalicelib.services.lifecycle import SpaceLifecycle
from chalicelib.services.payouts import PayoutService


def new_space_id() -> str:
    return "sp_" + uuid.uuid4().hex[:20]


@dataclass
class SpaceService:
    spaces: SpaceRepository
    users: UserRepository
    feed: FollowingFeed
    policy: HostingPolicy
    payouts: PayoutService
    lifecycle: SpaceLifecycle = field(default_factory=SpaceLifecycle.quiet)
    max_ticket_quantity: int = 10_000
    max_live_per_host: int = 1
    default_language: str = DEFAULT_LANGUAGE  # a Space created without a language speaks this (a setting)

    # -- create and edit ---------------------------------------------------------------------
    def create(self, host_id: str, *, title: str, topics: list[str] | None = None,
               scheduled_start: datetime | None = None, ticket: TicketOffer | None = None,
               options: MediaOptions | None = None) -> Space:
        now = utcnow()
        title = clean_title(title)
        topics = clean_topics(topics or [])
        if scheduled_start is not None:
            scheduled_start = check_schedule(scheduled_start, now)
        ticketing = None
        if ticket is not None:
            if scheduled_start is None:
                raise field_error("ticket", "a ticketed Space must be scheduled (give scheduled_start)")
            currency = check_ticket_offer(ticket.price_cents, ticket.currency, ticket.quantity,
                                          max_quantity=self.max_ticket_quantity)
            ticketing = Ticketing(price_cents=ticket.price_cents, currency=currency, quantity=ticket.quantity)
        user = self._check_may_host(host_id, ticketed=ticketing is not None, now=now)
        if scheduled_start is None:
            self._check_live_slot(user)
        space = Space(
            id=new_space_id(), host_id=host_id, title=title, topics=topics,
            state=SpaceState.scheduled if scheduled_start else SpaceState.live,
            scheduled_start=scheduled_start, started_at=None if scheduled_start else now,
            ticket=ticketing, language=self.default_language, created_at=now, updated_at=now,
        ).model_copy(update=(options or MediaOptions()).given())
        if space.state is SpaceState.live:
            self.lifecycle.before_start(space)
        self.spaces.create(space)
        if space.state is SpaceState.live:
            self.lifecycle.after_start(space)
        else:
            self.lifecycle.after_create(space)
        return space

    def edit(self, caller: str, space_id: str, *, title: str | None = None, topics: list[str] | None = None,
             scheduled_start: datetime | None = None, options: MediaOptions | None = None) -> Space:
        """Edit a scheduled Space; recording, captions, clips and the language may also change while live."""
        space = self.spaces.require(space_id)
        self._require_host(space, caller)
        media = (options or MediaOptions()).given()
        if title is not None or topics is not None or scheduled_start is not None:
            next_state(space.state, Action.edit)
        if media:
            next_state(space.state, Action.media_options)
        now = utcnow()
        changes: dict[str, object] = {"updated_at": now, **media}
        if title is not None:
            changes["title"] = clean_title(title)
        if topics is not None:
            changes["topics"] = clean_topics(topics)
        if scheduled_start is not None and scheduled_start != space.scheduled_start:
            if space.ticket is not None:
                raise InvalidState("a ticketed Space cannot be rescheduled, only canceled",
                                   details={"field": "scheduled_start"})
            changes["scheduled_start"] = check_schedule(scheduled_start, now)
        after = space.model_copy(update=changes)
        self.spaces.save_details(space, after)
        if after.scheduled_start != space.scheduled_start:
            self.lifecycle.after_reschedule(space, after)
        if any(getattr(after, k) != getattr(space, k) for k in media):
            self.lifecycle.after_media_options(space, after)
        return after

    # -- transitions -------------------------------------------------------------------------
    def start(self, caller: str, space_id: str) -> Space:
        space = self.spaces.require(space_id)
        self._require_host(space, caller)
        if space.state is SpaceState.scheduled:
            self._check_live_slot(self.users.get(caller))
        now = utcnow()
        after = space.model_copy(update={"state": next_state(space.state, Action.start),
                                         "started_at": now, "updated_at": now})
        self.lifecycle.before_start(after)
        self.spaces.transition(space, after)
        self.lifecycle.after_start(after)
        return after

    def end(self, caller: str | None, space_id: str) -> Space:
        """End a live Space. ``caller=None`` is the system (e.g. the media server closed the room)."""
        space = self.spaces.require(space_id)
        if caller is not None and not space.can_moderate(caller):
            raise Forbidden("only the host or a co-host can end this Space")
        now = utcnow()
        after = space.model_copy(update={"state": next_state(space.state, Action.end),
                                         "ended_at": now, "updated_at": now})
        self.lifecycle.before_end(after)
        try:
            self.spaces.transition(space, after)
        except InvalidState:
            # Closing the media room makes the media server report the room finished, and that
            # webhook ends the Space too: whoever lost the race still asked for what happened.
            current = self.spaces.require(space_id, consistent=True)
            if current.state is SpaceState.ended:
                return current
            raise
        self.lifecycle.after_end(after)
        return after

    def cancel(self, caller: str | None, space_id: str) -> Space:
        """Cancel a scheduled Space. ``caller=None`` is the system (the no-show rule).

        A retried cancel of an already canceled Space re-runs the after-cancel hooks, so work
        that stopped midway (refunds) resumes."""
        space = self.spaces.require(space_id)
        if caller is not None:
            self._require_host(space, caller)
        if space.state is SpaceState.canceled:
            self.lifecycle.after_cancel(space)
            return space
        now = utcnow()
        after = space.model_copy(update={"state": next_state(space.state, Action.cancel),
                                         "ended_at": now, "updated_at": now})
        self.spaces.transition(space, after)
        self.lifecycle.after_cancel(after)
        return after

    # -- reads -------------------------------------------------------------------------------
    def get(self, space_id: str) -> Space:
        return self.spaces.require(space_id)

    def list(self, state: SpaceState, *, topic: str | None, page: PageRequest) -> Page[Space]:
        return self.spaces.list_page(state, normalize_topic(topic), page)

    def following_live(self, user_id: str, *, topic: str | None, page: PageRequest) -> Page[Space]:
        """Live Spaces whose host, co-hosts or speakers ``user_id`` follows (``following_feed.py``)."""
        return self.feed.live_page(user_id, page, topic=normalize_topic(topic))

    # -- rules -------------------------------------------------------------------------------
    def _check_live_slot(self, host: User | None) -> None:
        """Refuse early (before a media room is opened) when the host is at the live cap; the
        repository's transaction enforces it exactly under concurrency."""
        if host is not None and host.live_count >= self.max_live_per_host:
            raise InvalidState(f"a host may have at most {self.max_live_per_host} live Space(s) at a time",
                               details={"reason": "live_limit", "limit": self.max_live_per_host})

    def _check_may_host(self, host_id: str, *, ticketed: bool, now: datetime) -> User:
        user = self.users.get(host_id)
        if user is None:
            raise NotEligible("you need a profile before hosting", details={"reasons": ["no_profile"]})
        verdict = eligibility(user, self.policy, charges_enabled=self.payouts.charges_enabled(host_id), now=now)
        if not verdict.can_host:
            raise NotEligible("you cannot host a Space yet", details={"reasons": verdict.reasons})
        if ticketed and not verdict.can_host_ticketed:
            raise NotEligible("you cannot host a ticketed Space yet",
                              details={"reasons": verdict.ticketed_reasons})
        return user

    @staticmethod
    def _require_host(space: Space, caller: str) -> None:
        if caller != space.host_id:
            raise Forbidden("only the host can do this")
