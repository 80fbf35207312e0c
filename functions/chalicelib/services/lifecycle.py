"""What else happens when a Space changes: the media room, the following feed, its schedules and
its money. One service with one method per hook, each running the same ordered participants.

The order is the rule, and it is fixed here, in ``SpaceLifecycle.__init__``:

1. the media room: it is the only participant that may refuse (``before_start``/``before_end``
   raise ``UpstreamUnavailable`` when LiveKit is down), so it runs before the others and before
   the state is stored, and a refusal leaves the Space as it was;
2. the feed: followers learn a Space went live, who joined the stage, that it ended (queued);
3. the schedules: reminder, start and no-show timers follow the Space's plan;
4. the money: a canceled ticketed Space's refunds are queued. Last, so a queue failure here (the
   cancel answers 503 and its retry queues them again) never hides the steps above.

``before_*`` hooks run before the change is stored and may refuse it; ``after_*`` hooks run once
it is stored. ``after_role_change`` runs when someone joins or leaves a live Space's stage;
``after_media_options`` when the host changes recording, captions or clips (``recordings``, the
optional participant of recorded media, runs right after the media room).
"""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.spaces import Space


class LifecycleParticipant(Protocol):
    def before_start(self, space: Space) -> None: ...
    def after_start(self, space: Space) -> None: ...
    def before_end(self, space: Space) -> None: ...
    def after_end(self, space: Space) -> None: ...
    def after_create(self, space: Space) -> None: ...
    def after_reschedule(self, before: Space, after: Space) -> None: ...
    def after_cancel(self, space: Space) -> None: ...
    def after_role_change(self, space: Space, user_id: str, role: str) -> None: ...
    def after_media_options(self, before: Space, after: Space) -> None: ...


class QuietParticipant:
    """A participant with nothing to do: the base for those that care about a few hooks only."""

    def before_start(self, space: Space) -> None:
        return None

    def after_start(self, space: Space) -> None:
        return None

    def before_end(self, space: Space) -> None:
        return None

    def after_end(self, space: Space) -> None:
        return None

    def after_create(self, space: Space) -> None:
        return None

    def after_reschedule(self, before: Space, after: Space) -> None:
        return None

    def after_cancel(self, space: Space) -> None:
        return None

    def after_role_change(self, space: Space, user_id: str, role: str) -> None:
        return None

    def after_media_options(self, before: Space, after: Space) -> None:
        return None


class SpaceLifecycle:
    def __init__(self, *, media_room: LifecycleParticipant, feed: LifecycleParticipant,
                 schedules: LifecycleParticipant, money: LifecycleParticipant,
                 recordings: LifecycleParticipant | None = None) -> None:
        first = (media_room, recordings) if recordings is not None else (media_room,)
        self.participants: tuple[LifecycleParticipant, ...] = (*first, feed, schedules, money)

    @classmethod
    def quiet(cls) -> SpaceLifecycle:
        """A lifecycle where nothing else happens (services built alone, in tests)."""
        nothing = QuietParticipant()
        return cls(media_room=nothing, feed=nothing, schedules=nothing, money=nothing)

    def before_start(self, space: Space) -> None:
        for p in self.participants:
            p.before_start(space)

    def after_start(self, space: Space) -> None:
        for p in self.participants:
            p.after_start(space)

    def before_end(self, space: Space) -> None:
        for p in self.participants:
            p.before_end(space)

    def after_end(self, space: Space) -> None:
        for p in self.participants:
            p.after_end(space)

    def after_create(self, space: Space) -> None:
        for p in self.participants:
            p.after_create(space)

    def after_reschedule(self, before: Space, after: Space) -> None:
        for p in self.participants:
            p.after_reschedule(before, after)

    def after_cancel(self, space: Space) -> None:
        for p in self.participants:
            p.after_cancel(space)

    def after_role_change(self, space: Space, user_id: str, role: str) -> None:
        for p in self.participants:
            p.after_role_change(space, user_id, role)

    def after_media_options(self, before: Space, after: Space) -> None:
        for p in self.participants:
            p.after_media_options(before, after)
