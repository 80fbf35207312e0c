"""infra/put_secrets.py on moto: fills and rotates the app's JSON secret the stack creates, and the
LiveKit nodes' renderer accepts every key pair in use at each rotation step."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infra import put_secrets
from infra.livekit_node.render_config import livekit_keys
from tests.infra.templates import APP, load

REGION = "us-east-1"


@pytest.fixture
def stack_secret():
    """The secret as CloudFormation creates it from template.yaml (template + generated key)."""
    gen = load(APP)["Resources"]["AppSecrets"]["Properties"]["GenerateSecretString"]
    initial = {**json.loads(gen["SecretStringTemplate"]), gen["GenerateStringKey"]: "g" * gen["PasswordLength"]}
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        arn = session.client("secretsmanager").create_secret(Name="airwaves-app", SecretString=json.dumps(initial))["ARN"]
        yield session, arn


def _value(session, arn) -> dict:
    return json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def test_sets_known_keys_and_generates_the_cursor_key(stack_secret, capsys):
    session, arn = stack_secret
    before = _value(session, arn)
    assert put_secrets.main(["--secret-id", arn, "--generate", "cursor_secret", "stripe_secret_key=sk_live_123",
                             "stripe_webhook_secret=whsec_1"], session=session) == 0
    after = _value(session, arn)
    assert after["stripe_secret_key"] == "sk_live_123" and after["stripe_webhook_secret"] == "whsec_1"
    assert len(after["cursor_secret"]) >= 48
    assert after["livekit_api_secret"] == before["livekit_api_secret"], "untouched keys stay"
    assert "sk_live_123" not in capsys.readouterr().out, "values are never printed"


def test_finds_the_secret_from_the_stack_outputs(stack_secret):
    session, arn = stack_secret
    cfn = session.client("cloudformation")
    cfn.create_stack(StackName="airwaves", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"SecretsArn": {"Value": arn}}}))
    assert put_secrets.secret_arn(cfn, "airwaves") == arn
    assert put_secrets.main(["--stack", "airwaves", "stripe_connect_webhook_secret=whsec_c"], session=session) == 0
    assert _value(session, arn)["stripe_connect_webhook_secret"] == "whsec_c"


def test_a_misspelt_key_changes_nothing(stack_secret):
    session, arn = stack_secret
    before = _value(session, arn)
    with pytest.raises(SystemExit, match="unknown secret key"):
        put_secrets.main(["--secret-id", arn, "stripe_secret_kee=sk_live_1"], session=session)
    assert _value(session, arn) == before


def test_values_without_equals_are_prompted_for():
    asked = []
    values = put_secrets.parse_assignments(["stripe_secret_key", "cursor_secret=abc"],
                                           prompt=lambda text: asked.append(text) or "typed")
    assert values == {"stripe_secret_key": "typed", "cursor_secret": "abc"} and asked == ["stripe_secret_key: "]


def test_livekit_rotation_never_leaves_a_key_in_use_unaccepted(stack_secret):
    session, arn = stack_secret
    old_key = _value(session, arn)["livekit_api_key"]

    put_secrets.main(["--secret-id", arn, "--livekit-rotation", "begin"], session=session)
    begun = _value(session, arn)
    new_key = begun["livekit_next_api_key"]
    assert begun["livekit_api_key"] == old_key, "the API keeps signing with the old key"
    assert set(livekit_keys(begun)) == {old_key, new_key}, "refreshed nodes accept both"

    put_secrets.main(["--secret-id", arn, "--livekit-rotation", "promote"], session=session)
    promoted = _value(session, arn)
    assert promoted["livekit_api_key"] == new_key and promoted["livekit_previous_api_key"] == old_key
    assert set(livekit_keys(promoted)) == {old_key, new_key}
    assert "livekit_next_api_key" not in promoted

    put_secrets.main(["--secret-id", arn, "--livekit-rotation", "finish"], session=session)
    finished = _value(session, arn)
    assert set(livekit_keys(finished)) == {new_key}

    with pytest.raises(SystemExit, match="no next LiveKit key"):
        put_secrets.main(["--secret-id", arn, "--livekit-rotation", "promote"], session=session)
