"""Captions on deployed stages (issue 14): the media worker's node role may make exactly one AWS
Transcribe call, the streaming one, and no other role in either template gets Transcribe at all."""
from __future__ import annotations

import pytest

from tests.infra.templates import APP, CLUSTER, load


def _statements(template: dict) -> list[tuple[str, dict]]:
    """Every IAM statement of every role and policy in a template, with its resource's name."""
    found = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
        if "PolicyDocument" in props:
            found += [(name, s) for s in props["PolicyDocument"]["Statement"]]
    return found


def _actions(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.fixture(scope="module")
def cluster() -> dict:
    return load(CLUSTER)


def test_the_node_role_grants_only_the_streaming_transcription_call(cluster):
    granted = [(name, s) for name, s in _statements(cluster)
               if any(a.lower().startswith("transcribe:") for a in _actions(s))]
    assert len(granted) == 1, granted
    name, statement = granted[0]
    assert name == "NodeRole"
    assert statement["Effect"] == "Allow" and _actions(statement) == ["transcribe:StartStreamTranscription"]
    assert statement["Resource"] == "*"  # StartStreamTranscription has no resource-level permissions
    assert "Condition" not in statement and "NotAction" not in statement


def test_nothing_else_can_reach_transcribe_by_a_wildcard_and_the_api_never_transcribes(cluster):
    for template in (cluster, load(APP)):
        for name, statement in _statements(template):
            assert "NotAction" not in statement, (name, statement)
            for action in _actions(statement):
                assert action != "*" and action.lower() not in ("transcribe:*", "transcribe:start*"), (name, action)
    assert not [a for _, s in _statements(load(APP)) for a in _actions(s) if a.lower().startswith("transcribe:")]
