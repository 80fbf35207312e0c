"""The tiered platform fee: 3% of lifetime gross up to $50,000, 20% above, marginal, one rounding."""
from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.fees import FeeSchedule, FeeTier

DEFAULT = FeeSchedule.from_pairs([[5_000_000, 300], [None, 2_000]])
THRESHOLD = 5_000_000


def test_below_the_threshold_pays_three_percent():
    q = DEFAULT.quote(1_000, 0)
    assert (q.platform_fee_cents, q.host_net_cents, q.tier, q.crosses_boundary) == (30, 970, 0, False)


def test_a_sale_ending_exactly_at_the_threshold_is_all_low_tier():
    q = DEFAULT.quote(1_000, THRESHOLD - 1_000)
    assert (q.platform_fee_cents, q.tier, q.crosses_boundary) == (30, 0, False)


def test_a_sale_starting_exactly_at_the_threshold_is_all_high_tier():
    q = DEFAULT.quote(1_000, THRESHOLD)
    assert (q.platform_fee_cents, q.host_net_cents, q.tier, q.rate_bps) == (200, 800, 1, 2_000)


def test_one_cent_below_the_threshold_the_next_sale_crosses():
    q = DEFAULT.quote(1_000, THRESHOLD - 1)
    # 1 cent at 3% + 999 cents at 20% = 0.03 + 199.8 = 199.83 -> 200
    assert q.crosses_boundary and q.tier == 1
    assert [(p.tier, p.amount_cents) for p in q.parts] == [(0, 1), (1, 999)]
    assert q.platform_fee_cents == 200


def test_a_sale_across_the_boundary_is_split_marginally():
    # $20 at a lifetime gross of $49,990: $10 at 3% + $10 at 20% = 30 + 200 cents
    q = DEFAULT.quote(2_000, THRESHOLD - 1_000)
    assert [(p.tier, p.amount_cents, p.rate_bps) for p in q.parts] == [(0, 1_000, 300), (1, 1_000, 2_000)]
    assert (q.platform_fee_cents, q.host_net_cents, q.tier, q.crosses_boundary) == (230, 1_770, 1, True)


def test_splitting_a_sale_cannot_lower_the_fee_across_the_boundary():
    whole = DEFAULT.quote(2_000, THRESHOLD - 1_000).platform_fee_cents
    first = DEFAULT.quote(1_000, THRESHOLD - 1_000).platform_fee_cents
    second = DEFAULT.quote(1_000, THRESHOLD).platform_fee_cents
    assert whole == first + second


def test_the_fee_never_jumps_at_the_threshold():
    """Marginal tiers: moving lifetime gross by one cent moves the fee by at most one cent."""
    fees = [DEFAULT.quote(5_000, THRESHOLD - 5_000 + g).platform_fee_cents for g in range(-3, 5_004, 7)]
    assert all(0 <= b - a <= 2 for a, b in itertools.pairwise(fees))
    assert fees[0] == 150 and fees[-1] == 1_000


@pytest.mark.parametrize("amount, expected", [
    (100, 3),      # 3.00
    (150, 5),      # 4.50 -> half up -> 5
    (116, 3),      # 3.48 -> 3
    (117, 4),      # 3.51 -> 4
    (99_900, 2_997),
    (1_234, 37),   # 37.02
])
def test_rounding_is_half_up_to_whole_cents(amount, expected):
    q = DEFAULT.quote(amount, 0)
    assert q.platform_fee_cents == expected
    assert q.host_net_cents == amount - expected


@pytest.mark.parametrize("amount", [1_001, 1_003, 1_005, 1_025, 2_175])
def test_rounding_half_up_in_the_high_tier(amount):
    q = DEFAULT.quote(amount, THRESHOLD * 2)
    exact_times_10k = amount * 2_000
    assert q.platform_fee_cents == (exact_times_10k + 5_000) // 10_000


def test_rounding_happens_once_on_the_sum_of_parts():
    # 10 cents at 3% = 0.3 and 52 cents at 20% = 10.4: exact 10.7 -> 11. Rounding each part
    # first would give 0 + 10 = 10, so this pins the single rounding on the sum.
    q = DEFAULT.quote(62, THRESHOLD - 10)
    assert [p.amount_cents for p in q.parts] == [10, 52]
    assert q.platform_fee_cents == 11


def test_tiers_and_rates_are_configurable():
    three = FeeSchedule([FeeTier(100_000, 500), FeeTier(1_000_000, 1_000), FeeTier(None, 0)])
    assert three.quote(1_000, 0).platform_fee_cents == 50
    assert three.quote(1_000, 100_000).platform_fee_cents == 100
    assert three.quote(1_000, 1_000_000).platform_fee_cents == 0
    q = three.quote(1_000_000, 50_000)   # spans all three tiers
    assert [(p.tier, p.amount_cents) for p in q.parts] == [(0, 50_000), (1, 900_000), (2, 50_000)]
    assert q.platform_fee_cents == 2_500 + 90_000


def test_current_tier_for_the_payouts_view():
    assert DEFAULT.current_tier(0).percent == 3.0
    assert DEFAULT.current_tier(THRESHOLD - 1).percent == 3.0
    assert DEFAULT.current_tier(THRESHOLD).percent == 20.0
    assert DEFAULT.current_tier(-500).percent == 3.0  # refunds never make gross count below zero


@pytest.mark.parametrize("pairs", [
    [],
    [[5_000_000, 300]],                      # last tier must be unbounded
    [[None, 300], [None, 2_000]],            # only the last may be unbounded
    [[5_000_000, 300], [1_000, 500], [None, 2_000]],  # not ascending
    [[0, 300], [None, 2_000]],               # threshold must be positive
    [[5_000_000, 300], [None, 10_001]],      # rate above 100%
    [[5_000_000, -1], [None, 2_000]],
])
def test_bad_schedules_are_refused(pairs):
    with pytest.raises(ValueError):
        FeeSchedule.from_pairs(pairs)


def test_a_sale_must_be_positive():
    with pytest.raises(ValueError):
        DEFAULT.quote(0, 0)
