"""Host eligibility: followers against a configurable threshold; protected/suspended never host."""
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.users import HostingPolicy, User, age_on, eligibility

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def user(**fields) -> User:
    return User(id="u1", handle="u1", display_name="U One", **fields)


@pytest.mark.parametrize("followers, can_host", [(0, False), (599, False), (600, True), (10_000, True)])
def test_follower_threshold_defaults_to_600(followers, can_host):
    verdict = eligibility(user(follower_count=followers), HostingPolicy(), charges_enabled=False, now=NOW)
    assert verdict.can_host is can_host
    assert verdict.required_followers == 600
    assert ("not_enough_followers" in verdict.reasons) is (not can_host)


def test_threshold_zero_opens_hosting_to_everyone():
    verdict = eligibility(user(follower_count=0), HostingPolicy(min_followers=0), charges_enabled=False, now=NOW)
    assert verdict.can_host and verdict.reasons == []


@pytest.mark.parametrize("flag, reason", [("protected", "account_protected"), ("suspended", "account_suspended")])
def test_protected_or_suspended_accounts_cannot_host(flag, reason):
    verdict = eligibility(user(follower_count=5000, **{flag: True}), HostingPolicy(), charges_enabled=True, now=NOW)
    assert not verdict.can_host and not verdict.can_host_ticketed
    assert verdict.reasons == [reason]


def test_ticketed_hosting_needs_audience_age_payouts_and_recent_spaces():
    recent = [NOW - timedelta(days=d) for d in (1, 5, 29)]
    ok = user(follower_count=1000, birthdate=date(2000, 1, 1), hosted_starts=recent)
    assert eligibility(ok, HostingPolicy(), charges_enabled=True, now=NOW).can_host_ticketed

    young = ok.model_copy(update={"birthdate": date(2008, 11, 26)})  # 17 until tomorrow
    stale = ok.model_copy(update={"hosted_starts": [NOW - timedelta(days=31)] * 3})
    cases = {
        "charges_not_enabled": (ok, False),
        "under_minimum_age": (young, True),
        "not_enough_recent_spaces": (stale, True),
        "birthdate_unknown": (ok.model_copy(update={"birthdate": None}), True),
        "not_enough_followers": (ok.model_copy(update={"follower_count": 999}), True),
    }
    for reason, (profile, charges) in cases.items():
        verdict = eligibility(profile, HostingPolicy(), charges_enabled=charges, now=NOW)
        assert not verdict.can_host_ticketed and verdict.ticketed_reasons == [reason], reason


def test_age_counts_birthdays_exactly():
    assert age_on(date(2008, 11, 25), date(2026, 11, 25)) == 18
    assert age_on(date(2008, 11, 26), date(2026, 11, 25)) == 17
