"""Shared reading of the committed deployment templates for the infra tests."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "template.yaml"
CLUSTER = ROOT / "infra" / "livekit-cluster.yaml"
TEMPLATES = (APP, CLUSTER)
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


@cache
def _load(path: Path) -> str:
    return json.dumps(yaml.safe_load(path.read_text()))


def load(path: Path) -> dict[str, Any]:
    """A fresh copy of a committed template (tests may change what they get)."""
    return json.loads(_load(path))


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource id, statement) for every IAM statement of every role and resource policy.

    ``Fn::If`` around a statement counts both branches (``AWS::NoValue`` is skipped)."""
    for rid, res in template["Resources"].items():
        docs = [p["PolicyDocument"] for p in res.get("Properties", {}).get("Policies", [])]
        if "PolicyDocument" in res.get("Properties", {}):
            docs.append(res["Properties"]["PolicyDocument"])
        for doc in docs:
            for stmt in doc["Statement"]:
                branches = stmt["Fn::If"][1:] if "Fn::If" in stmt else [stmt]
                for branch in branches:
                    if branch != {"Ref": "AWS::NoValue"}:
                        yield rid, branch


def cfn_lint_with(tmp_path: Path, **defaults: str) -> subprocess.CompletedProcess[str]:
    """cfn-lint over the app template with some parameters' defaults changed (an optional part
    turned on: the committed template lints with the defaults off)."""
    template = load(APP)
    for name, value in defaults.items():
        template["Parameters"][name]["Default"] = value
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "livekit-cluster.yaml").write_text(CLUSTER.read_text())
    (tmp_path / "template.yaml").write_text(json.dumps(template))
    return subprocess.run([CFN_LINT, "--format", "parseable", "template.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
