"""Under ``CI=true`` a stripe-mock that cannot be built or started FAILS the run; locally it skips."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = '''
def test_needs_stripe_mock(stripe_mock):
    assert stripe_mock.url
'''


@pytest.mark.parametrize("ci, outcome", [("true", "1 error"), ("", "1 skipped")])
def test_a_missing_stripe_mock(tmp_path, ci, outcome):
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "CI": ci, "AIRWAVES_CACHE": str(tmp_path / "empty-cache"),
           "PATH": "/usr/bin:/bin"}  # no Go toolchain: the pinned build cannot run
    out = subprocess.run([sys.executable, "-m", "pytest", str(probe), "-q", "-p", "no:cacheprovider", "-p", "tests.fixtures_stripe",
                          "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    if ci:
        assert out.returncode != 0 and "stripe-mock is required under CI" in out.stdout
    else:
        assert out.returncode == 0
