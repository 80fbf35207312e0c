"""Schemathesis against the local server over real HTTP, from the generated OpenAPI document, with
every check on: schema-valid requests are accepted, schema-violating ones refused, every status,
header, content type and body is the documented one, nothing answers 500, auth is not ignored;
then the stateful phase, along the document's links from each create to the operations taking its id.

The run is bounded (``MAX_EXAMPLES`` cases per operation and phase, a per-request timeout, a hard
deadline on the whole run) and prints what it covered. Requests carry a real dev token of an admin
who may host; ``fuzz_hooks.py`` supplies the few values no schema can state (see there).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.http_api import HttpApi
from tests.real_servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = int(os.environ.get("AIRWAVES_FUZZ_MAX_EXAMPLES", "10"))
SEED = os.environ.get("AIRWAVES_FUZZ_SEED", "20261204")
DEADLINE_SECONDS = 600  # a run past this is a hang, not a slow machine
FUZZER = "fuzzer"


def run_schemathesis(api: HttpApi, workdir: Path, phases: str) -> tuple[subprocess.CompletedProcess[str], dict, int]:
    """Run the CLI once; its result, its JSON report and how many requests it sent."""
    if not SCHEMATHESIS.exists():
        unavailable("schemathesis", f"{SCHEMATHESIS} is missing: pip install -r requirements-dev.txt")
    api.make_user(FUZZER, followers=1_000_000)
    token = api.token(FUZZER, admin=True)
    report, count = workdir / "report.json", workdir / "requests.txt"
    command = [str(SCHEMATHESIS), "run", f"{api.base_url}/v1/openapi.json", "--checks", "all",
               "--phases", phases, "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
               "--request-timeout", "20", "--generation-database", "none", "--no-color",
               "--header", f"Authorization: Bearer {token}", "--report", "json", "--report-json-path", str(report)]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.fuzz_hooks", "AIRWAVES_FUZZ_COUNT": str(count),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=DEADLINE_SECONDS)
    if not report.exists():
        raise AssertionError(f"schemathesis wrote no report ({result.returncode}):\n{result.stdout[-3000:]}"
                             f"\n{result.stderr[-3000:]}")
    return result, json.loads(report.read_text()), int(count.read_text()) if count.exists() else 0


def summary(report: dict, requests: int, wall: float) -> str:
    ops, cases = report["operations"], report["test_cases"]
    failures = sum(f["count"] for f in report["failures"])
    return (f"schemathesis: {ops['tested']}/{ops['total']} operations, {cases['generated']} cases, {requests} requests, "
            f"{failures} failures, {len(report['errors'])} errors, {wall:.0f} s")


def test_every_operation_answers_as_its_openapi_document_says(contract_api: HttpApi, tmp_path: Path):
    started = time.monotonic()
    result, report, requests = run_schemathesis(contract_api, tmp_path, "examples,coverage,fuzzing")
    print(summary(report, requests, time.monotonic() - started))
    assert report["operations"]["tested"] == report["operations"]["total"] > 60, report["operations"]
    assert requests > 10 * report["operations"]["total"], requests
    assert not report["failures"] and not report["errors"] and result.returncode == 0, (
        summary(report, requests, time.monotonic() - started) + "\n" + result.stdout[-20000:])


def test_sequences_through_the_documents_links_answer_as_documented(contract_api: HttpApi, tmp_path: Path):
    """The stateful phase: chains of calls where a create's id feeds the operations its links name."""
    started = time.monotonic()
    result, report, requests = run_schemathesis(contract_api, tmp_path, "stateful")
    print(summary(report, requests, time.monotonic() - started))
    assert report["phases"]["stateful"]["status"] != "skip", report["phases"]
    assert requests > 40, requests
    assert not report["failures"] and not report["errors"] and result.returncode == 0, (
        summary(report, requests, time.monotonic() - started) + "\n" + result.stdout[-20000:])
