"""The $50,000 fee boundary as the deployed stages build it: settings read from exactly the
environment ``chalicefile.json`` gives each stage (no test override), through the container."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chalicelib.container import Container
from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY_CENTS = 5_000_000


def _stage_env(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / "chalicefile.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_fee_boundary_is_fifty_thousand_dollars(stage, monkeypatch):
    for name in list(os.environ):
        if name.startswith("AIRWAVES_"):
            monkeypatch.delenv(name)
    for name, value in _stage_env(stage).items():
        monkeypatch.setenv(name, str(value))
    fees = Container(Settings()).fee_schedule

    assert fees.current_tier(BOUNDARY_CENTS - 1).rate_bps == 300
    assert fees.current_tier(BOUNDARY_CENTS).rate_bps == 2_000
    below = fees.quote(100, BOUNDARY_CENTS - 100)
    assert (below.platform_fee_cents, below.crosses_boundary) == (3, False)
    above = fees.quote(100, BOUNDARY_CENTS)
    assert (above.platform_fee_cents, above.crosses_boundary) == (20, False)
    # $100 straddling the line: $50 at 3% + $50 at 20% = $11.50.
    split = fees.quote(10_000, BOUNDARY_CENTS - 5_000)
    assert split.crosses_boundary
    assert [(p.amount_cents, p.rate_bps) for p in split.parts] == [(5_000, 300), (5_000, 2_000)]
    assert split.platform_fee_cents == 1_150
