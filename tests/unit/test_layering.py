"""The layers stay layers: read every import of chalicelib (lazy and type-only ones too) and
check that dependencies point inward. ruff's banned-api rule says the same about SDKs at lint
time; this test also covers imports between our own packages."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "chalicelib"
SDKS = ("boto3", "botocore", "stripe", "livekit", "aiohttp", "jwt", "chalice", "moto", "aws_lambda_powertools")

# Which of our own modules each layer may not import (prefixes of dotted names).
FORBIDDEN = {
    "domain": ("chalicelib.api", "chalicelib.services", "chalicelib.adapters", "chalicelib.container",
               "chalicelib.ports", "chalicelib.secrets", "chalicelib.settings"),
    "services": ("chalicelib.api", "chalicelib.adapters", "chalicelib.container", "chalicelib.secrets",
                 "chalicelib.settings"),
    "adapters": ("chalicelib.api", "chalicelib.services", "chalicelib.container"),
}


def imports_of(source: str) -> set[str]:
    """Every module a source file imports, anywhere in it (``from x import y`` gives ``x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(layer: str, path: Path) -> list[str]:
    bad = []
    for name in sorted(imports_of(path.read_text())):
        top = name.split(".")[0]
        if layer in ("domain", "services") and top in SDKS:
            bad.append(f"{path.name} imports the SDK {name}")
        if any(name == p or name.startswith(p + ".") for p in FORBIDDEN.get(layer, ())):
            bad.append(f"{path.name} imports {name}")
    return bad


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["domain", "services", "adapters"])
def test_each_layer_imports_only_inward(layer):
    assert modules(layer), f"no modules found under {layer}/"
    problems = [v for path in modules(layer) for v in violations(layer, path)]
    assert problems == []


def test_nothing_below_the_api_imports_from_it():
    below = [p for p in PACKAGE.rglob("*.py") if "api" not in p.relative_to(PACKAGE).parts]
    offenders = [str(p.relative_to(PACKAGE)) for p in below
                 if any(m == "chalicelib.api" or m.startswith("chalicelib.api.") for m in imports_of(p.read_text()))]
    assert offenders == []


def test_the_checker_sees_lazy_and_type_only_imports(tmp_path):
    """The scan must catch what hides inside functions and TYPE_CHECKING blocks."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from chalicelib.api.routing import Call\n"
                      "def f():\n    import boto3\n    from livekit import api\n")
    assert violations("services", sneaky) == [
        "sneaky.py imports the SDK boto3", "sneaky.py imports chalicelib.api.routing", "sneaky.py imports the SDK livekit"]


def test_ports_carry_no_any():
    tree = ast.parse((PACKAGE / "ports.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "Any" not in names
