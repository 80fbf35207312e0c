"""Small helpers for writing CloudFormation as Python data: intrinsic functions, parameters and a
stable YAML dump. The templates are built as plain dicts so tests can read them the same way."""
from __future__ import annotations

from typing import Any

import yaml


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Fn::Sub": [text, variables] if variables else text}


def join(parts: list[Any], delimiter: str = "") -> dict[str, Any]:
    return {"Fn::Join": [delimiter, parts]}


def if_(condition: str, then: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, then, otherwise]}


NO_VALUE = {"Ref": "AWS::NoValue"}


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> dict[str, Any]:
    """``arn:${AWS::Partition}:<service>:<region>:<account>:<resource>`` (resource may use ${...})."""
    return sub("arn:${{AWS::Partition}}:{}:{}:{}:{}".format(
        service, "${AWS::Region}" if region else "", "${AWS::AccountId}" if account else "", resource))


def parameter(description: str, *, type_: str = "String", default: Any = None, **extra: Any) -> dict[str, Any]:
    """A template parameter; every parameter carries a Description (ops read them in the console)."""
    spec: dict[str, Any] = {"Type": type_, "Description": description}
    if default is not None:
        spec["Default"] = default
    spec.update(extra)
    return spec


def statement(actions: list[str], resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def lint_waiver(**checks: str) -> dict[str, Any]:
    """Resource Metadata that waives cfn-lint checks, each with the reason written next to it."""
    return {"cfn-lint": {"config": {"ignore_checks": sorted(checks)}}, "LintWaivers": dict(sorted(checks.items()))}


class _Dumper(yaml.SafeDumper):
    """Block style, no aliases, multi-line strings as literal blocks (user data stays readable)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(template: dict[str, Any], header: str) -> str:
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.strip().splitlines())
    return comment + yaml.dump(template, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def load(text: str) -> dict[str, Any]:
    """Read a template written by ``dump`` (long-form intrinsics only, so plain YAML)."""
    return yaml.safe_load(text)
