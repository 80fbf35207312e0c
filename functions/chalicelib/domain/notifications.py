"""What each push says. Plain text plus a small data map the apps use to open the right screen."""
from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.domain.spaces import Space


class Push(BaseModel):
    title: str
    body: str
    data: dict[str, str] = Field(default_factory=dict)
    # What makes this push one occurrence: each person gets it at most once, however often the
    # queue message or schedule that sends it is delivered (not part of what the phone receives).
    once_key: str = ""


def _data(space: Space, event: str) -> dict[str, str]:
    return {"type": event, "space_id": space.id}


def _once(space: Space, event: str) -> str:
    """A Space goes live and is canceled once; its schedule pushes belong to its planned start
    (a Space moved to another time is reminded again)."""
    planned = space.scheduled_start.isoformat() if space.scheduled_start else ""
    return f"{event}#{space.id}#{planned}" if event in ("host_reminder", "host_start", "space_starting") \
        else f"{event}#{space.id}"


def host_reminder(space: Space, minutes: int) -> Push:
    return Push(title="Your Space starts soon", body=f"\u201c{space.title}\u201d starts in {minutes} minutes.",
                data=_data(space, "host_reminder"), once_key=_once(space, "host_reminder"))


def host_start_now(space: Space) -> Push:
    return Push(title="Time to go live", body=f"\u201c{space.title}\u201d is scheduled to start now.",
                data=_data(space, "host_start"), once_key=_once(space, "host_start"))


def space_starting(space: Space) -> Push:
    return Push(title="Starting now", body=f"\u201c{space.title}\u201d is about to start.",
                data=_data(space, "space_starting"), once_key=_once(space, "space_starting"))


def space_live(space: Space, host_name: str) -> Push:
    return Push(title=f"{host_name} is live", body=f"\u201c{space.title}\u201d: tap to listen.",
                data=_data(space, "space_live"), once_key=_once(space, "space_live"))


def space_canceled(space: Space) -> Push:
    return Push(title="Space canceled", body=f"\u201c{space.title}\u201d was canceled.",
                data=_data(space, "space_canceled"), once_key=_once(space, "space_canceled"))
