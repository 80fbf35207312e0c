"""infra/put_secrets.py on moto: fills and rotates the app's JSON secret the stack creates, and the
LiveKit nodes' renderer accepts every key pair in use at each rotation step."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.livekit import LiveKitMedia
from chalicelib.secrets import StaticSecrets
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


def test_at_file_values_are_read_whole_from_the_file(tmp_path):
    multi_line = "first line of a key file\nsecond line\n\nlast line\n"  # a PEM's shape, no key in the repo
    (tmp_path / "hls-cdn.pem").write_text(multi_line)
    values = put_secrets.parse_assignments([f"hls_cdn_private_key=@{tmp_path / 'hls-cdn.pem'}"],
                                           prompt=lambda text: pytest.fail("nothing to prompt for"))
    assert values == {"hls_cdn_private_key": multi_line}


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
    assert promoted["livekit_previous_api_secret"] == begun["livekit_api_secret"]
    assert set(livekit_keys(promoted)) == {old_key, new_key}
    assert promoted["livekit_next_api_key"] == promoted["livekit_next_api_secret"] == ""

    put_secrets.main(["--secret-id", arn, "--livekit-rotation", "finish"], session=session)
    finished = _value(session, arn)
    assert set(livekit_keys(finished)) == {new_key}
    assert finished["livekit_previous_api_key"] == finished["livekit_previous_api_secret"] == ""
    assert set(finished) == set(begun), "every field the stack created stays (empty when not rotating)"

    with pytest.raises(SystemExit, match="no next LiveKit key"):
        put_secrets.main(["--secret-id", arn, "--livekit-rotation", "promote"], session=session)


def _webhook_keys(secret: dict) -> set:
    """Keys the functions accept on ``POST /v1/webhooks/livekit`` when their cached secret is ``secret``."""
    media = LiveKitMedia(StaticSecrets({k: str(v) for k, v in secret.items()}), client_url="ws://127.0.0.1:7880",
                         api_url="", token_ttl=timedelta(seconds=60), empty_timeout=60, departure_timeout=60)
    return set(media.webhook_keys())


def test_the_functions_accept_webhooks_from_every_node_at_every_rotation_step(stack_secret):
    """A node signs webhooks with the current key of the secret it started with; the functions'
    cached secret may be one step behind. Every such pair must be accepted."""
    session, arn = stack_secret
    versions = [_value(session, arn)]
    for phase in ("begin", "promote", "finish"):
        put_secrets.main(["--secret-id", arn, "--livekit-rotation", phase], session=session)
        versions.append(_value(session, arn))
    for step in range(1, len(versions)):
        for node_started_with in versions[step - 1:step + 1]:
            for functions_cache in versions[step - 1:step + 1]:
                signer = node_started_with["livekit_api_key"]
                assert signer in _webhook_keys(functions_cache), (step, signer)
    assert versions[0]["livekit_api_key"] not in _webhook_keys(versions[-1]), "finish retires the old key"


def test_rotation_steps_refuse_to_run_out_of_order(stack_secret):
    session, arn = stack_secret
    rotate = lambda phase: put_secrets.main(["--secret-id", arn, "--livekit-rotation", phase], session=session)  # noqa: E731
    rotate("begin")
    with pytest.raises(SystemExit, match="begun but not promoted"):
        rotate("finish")
    rotate("promote")
    promoted = _value(session, arn)
    with pytest.raises(SystemExit, match="not finished"):
        rotate("begin")
    assert _value(session, arn) == promoted, "a refused step changes nothing"
    rotate("finish")
    rotate("begin")
    assert _value(session, arn)["livekit_next_api_key"]


def test_rotation_fields_are_not_set_by_hand(stack_secret):
    session, arn = stack_secret
    with pytest.raises(SystemExit, match="unknown secret key"):
        put_secrets.main(["--secret-id", arn, "livekit_previous_api_key=x"], session=session)
