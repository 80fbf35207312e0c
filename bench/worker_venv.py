"""The media worker's benches import its package, which lives in its own venv
(``livekit/worker/.venv``, other pins than the API's): ``make bench`` runs in the API's venv, so
such a bench re-runs itself there."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER_PY = ROOT / "livekit" / "worker" / ".venv" / "bin" / "python"
WORKER_PYTHONPATH = f"{ROOT / 'livekit' / 'worker'}{os.pathsep}{ROOT}"
_HERE = "AIRWAVES_BENCH_IN_WORKER_VENV"


def run_in_worker_venv(module: str, run: Callable[[], None]) -> None:
    """Call ``run`` when already in the worker's venv, else run ``module`` there (installing it first)."""
    if "--here" in sys.argv or os.environ.get(_HERE):
        run()
        return
    if not WORKER_PY.exists():
        subprocess.run(["make", "worker-install"], cwd=ROOT, check=True)
    subprocess.run([str(WORKER_PY), "-m", module, "--here"], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": WORKER_PYTHONPATH, _HERE: "1"})
