"""Users, and who may host.

Eligibility is a pure function of a profile and a policy so the rule reads in one place and is
tested without storage. ``reasons`` are machine-readable codes the apps turn into copy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, Field

# The profile keeps only its newest hosted starts: enough for any "hosted N in the window" rule
# (the newest N decide it), and the item never grows with a creator's history.
HOSTED_STARTS_KEPT = 20


class User(BaseModel):
    id: str
    handle: str
    display_name: str
    follower_count: int = 0
    following_count: int = 0
    birthdate: date | None = None
    protected: bool = False
    suspended: bool = False
    upcoming_count: int = 0
    live_count: int = 0
    hosted_starts: list[datetime] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class HostingPolicy:
    """Who may host. ``min_followers=0`` opens hosting to everyone."""

    min_followers: int = 600
    ticketed_min_followers: int = 1000
    ticketed_min_age_years: int = 18
    ticketed_min_recent_spaces: int = 3
    ticketed_recent_window_days: int = 30

    def __post_init__(self) -> None:
        if self.ticketed_min_recent_spaces > HOSTED_STARTS_KEPT:
            raise ValueError(f"ticketed_min_recent_spaces may be at most {HOSTED_STARTS_KEPT}")


@dataclass(frozen=True)
class Eligibility:
    can_host: bool
    can_host_ticketed: bool
    follower_count: int
    required_followers: int
    reasons: list[str] = field(default_factory=list)
    ticketed_reasons: list[str] = field(default_factory=list)


def age_on(birthdate: date, today: date) -> int:
    years = today.year - birthdate.year
    if (today.month, today.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def host_reasons(user: User, policy: HostingPolicy) -> list[str]:
    reasons: list[str] = []
    if user.suspended:
        reasons.append("account_suspended")
    if user.protected:
        reasons.append("account_protected")
    if user.follower_count < policy.min_followers:
        reasons.append("not_enough_followers")
    return reasons


def ticketed_host_reasons(
    user: User, policy: HostingPolicy, *, charges_enabled: bool, now: datetime
) -> list[str]:
    """Why ``user`` may not sell tickets (empty when they may).

    Ticketed hosting is stricter than hosting: an established audience, adulthood, a payout
    account that can take charges, and a recent habit of hosting.
    """
    reasons = [r for r in host_reasons(user, policy) if r != "not_enough_followers"]
    if user.follower_count < max(policy.ticketed_min_followers, policy.min_followers):
        reasons.append("not_enough_followers")
    if user.birthdate is None:
        reasons.append("birthdate_unknown")
    elif age_on(user.birthdate, now.date()) < policy.ticketed_min_age_years:
        reasons.append("under_minimum_age")
    if not charges_enabled:
        reasons.append("charges_not_enabled")
    window_start = now.timestamp() - policy.ticketed_recent_window_days * 86400
    recent = [t for t in user.hosted_starts if t.timestamp() >= window_start]
    if len(recent) < policy.ticketed_min_recent_spaces:
        reasons.append("not_enough_recent_spaces")
    return reasons


def eligibility(
    user: User, policy: HostingPolicy, *, charges_enabled: bool, now: datetime
) -> Eligibility:
    reasons = host_reasons(user, policy)
    ticketed = ticketed_host_reasons(user, policy, charges_enabled=charges_enabled, now=now)
    return Eligibility(
        can_host=not reasons,
        can_host_ticketed=not ticketed,
        follower_count=user.follower_count,
        required_followers=policy.min_followers,
        reasons=reasons,
        ticketed_reasons=ticketed,
    )
