"""The platform fee on ticket sales: tiered on the creator's lifetime gross.

Defaults: 3% of a creator's lifetime gross ticket sales up to $50,000, 20% above it (thresholds
and rates come from settings). Everything is integer minor units and basis points; no floats.

How a sale is priced (the one rule, written once):

* **Marginal tiers.** Like tax brackets, each part of a sale is charged the rate of the tier that
  part falls in, measured on the creator's lifetime gross *before* the sale. A $20 sale made at a
  lifetime gross of $49,990 pays 3% on the first $10 and 20% on the other $10. So the fee never
  jumps when a creator crosses a threshold, and splitting a sale cannot lower it.
* **One rounding, half up.** The exact fee is ``sum(part_cents * rate_bps) / 10_000``; it is rounded
  once, to whole cents, half up (a tie goes to the platform): ``(exact_numerator + 5_000) // 10_000``.
* **The tier recorded on the ticket** is the tier of the sale's last cent (the tier the creator is
  in once the sale counts); ``crosses_boundary`` says when the sale straddled a threshold, and
  ``parts`` keeps the split.
* ``host_net_cents = amount_cents - platform_fee_cents``.

The quote is taken when a ticket is created (the PaymentIntent's ``application_fee_amount`` must be
fixed then), from the lifetime gross of *paid* sales at that moment. Sales that are pending at the
same time are each priced on that same figure. No currency conversion: thresholds apply to minor
units of whatever currency the creator sells in.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BPS = 10_000


@dataclass(frozen=True)
class FeeTier:
    """A rate that applies to lifetime gross below ``up_to_cents`` (``None``: no upper bound)."""

    up_to_cents: int | None
    rate_bps: int

    @property
    def percent(self) -> float:
        return self.rate_bps / 100


@dataclass(frozen=True)
class FeePart:
    tier: int
    amount_cents: int
    rate_bps: int


@dataclass(frozen=True)
class FeeQuote:
    amount_cents: int
    platform_fee_cents: int
    host_net_cents: int
    tier: int
    rate_bps: int
    crosses_boundary: bool
    parts: tuple[FeePart, ...]


class FeeSchedule:
    """Ascending tiers; the last one is unbounded."""

    def __init__(self, tiers: list[FeeTier]) -> None:
        if not tiers:
            raise ValueError("a fee schedule needs at least one tier")
        if tiers[-1].up_to_cents is not None:
            raise ValueError("only the last fee tier may be unbounded, and it must be")
        bounds = [t.up_to_cents for t in tiers[:-1]]
        thresholds = [b for b in bounds if b is not None]
        if len(thresholds) != len(bounds):
            raise ValueError("only the last fee tier may be unbounded, and it must be")
        if any(b <= 0 for b in thresholds) or thresholds != sorted(set(thresholds)):
            raise ValueError("fee tier thresholds must be positive and strictly ascending")
        if any(not 0 <= t.rate_bps <= BPS for t in tiers):
            raise ValueError("fee rates are basis points between 0 and 10000")
        self.tiers = tuple(tiers)

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[int | None, int]]) -> FeeSchedule:
        """From settings: ``[[5000000, 300], [null, 2000]]`` (threshold cents, rate in basis points)."""
        return cls([FeeTier(up_to_cents=threshold, rate_bps=int(rate)) for threshold, rate in pairs])

    def tier_index(self, lifetime_gross_cents: int) -> int:
        """The tier the next cent sold falls in."""
        for index, tier in enumerate(self.tiers):
            if tier.up_to_cents is None or lifetime_gross_cents < tier.up_to_cents:
                return index
        return len(self.tiers) - 1  # unreachable: the last tier is unbounded

    def current_tier(self, lifetime_gross_cents: int) -> FeeTier:
        return self.tiers[self.tier_index(max(0, lifetime_gross_cents))]

    def quote(self, amount_cents: int, lifetime_gross_cents: int) -> FeeQuote:
        if amount_cents <= 0:
            raise ValueError("a sale is a positive amount of cents")
        gross = max(0, lifetime_gross_cents)
        parts: list[FeePart] = []
        remaining, position = amount_cents, gross
        index = self.tier_index(gross)
        while remaining > 0:
            tier = self.tiers[index]
            room = remaining if tier.up_to_cents is None else min(remaining, tier.up_to_cents - position)
            parts.append(FeePart(tier=index, amount_cents=room, rate_bps=tier.rate_bps))
            remaining -= room
            position += room
            index += 1
        numerator = sum(p.amount_cents * p.rate_bps for p in parts)
        fee = (numerator + BPS // 2) // BPS
        last = parts[-1]
        return FeeQuote(amount_cents=amount_cents, platform_fee_cents=fee, host_net_cents=amount_cents - fee,
                        tier=last.tier, rate_bps=last.rate_bps, crosses_boundary=len(parts) > 1,
                        parts=tuple(parts))
