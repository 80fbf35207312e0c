"""Offline validation of the deployment templates: cfn-lint, the SAM transform, documented
parameters, least-privilege IAM, the table against its schema, the nested stack's wiring."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from chalicelib.adapters.dynamodb import schema
from tests.infra.templates import APP, CFN_LINT, CLUSTER, ROOT, TEMPLATES, functions, load, policy_statements, walk

PLACEHOLDER_CODE = "s3://placeholder-bucket/airwaves.zip"


def test_cfn_lint_reports_nothing():
    """No errors and no warnings (a waived check sits in the resource's Metadata with its reason)."""
    res = subprocess.run([CFN_LINT, "--format", "parseable",
                          *(str(p.relative_to(ROOT)) for p in TEMPLATES)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def test_cfn_lint_would_catch_a_broken_template(tmp_path):
    """The lint step is live: the same call fails on a template with a wrong property."""
    broken = load(APP)
    broken["Resources"]["Table"]["Properties"]["BillingMode"] = "ON_DEMAND_PLEASE"
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "livekit-cluster.yaml").write_text(CLUSTER.read_text())
    (tmp_path / "template.yaml").write_text(json.dumps(broken))
    res = subprocess.run([CFN_LINT, "--format", "parseable", "template.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "ON_DEMAND_PLEASE" in res.stdout


def test_waived_lint_checks_carry_their_reason():
    for path in TEMPLATES:
        for rid, res in load(path)["Resources"].items():
            meta = res.get("Metadata", {})
            waived = meta.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
            reasons = meta.get("LintWaivers", {})
            assert all(reasons.get(check, "").strip() for check in waived), f"{path.name}:{rid} waives without reason"


class StubPolicyLoader:
    """The SAM translator asks IAM for managed policy ARNs only when a function names one; ours never do."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def transformed() -> dict:
    from samtranslator.translator.transform import transform

    template = load(APP)
    for res in functions(template).values():
        res["Properties"]["CodeUri"] = PLACEHOLDER_CODE
    return transform(template, {}, StubPolicyLoader())


def test_sam_transform_succeeds_offline(transformed):
    types = {res["Type"] for res in transformed["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage"} <= types
    sam = load(APP)
    for logical_id, res in functions(sam).items():
        fn = transformed["Resources"][logical_id]
        assert fn["Type"] == "AWS::Lambda::Function"
        assert fn["Properties"]["Role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        assert fn["Properties"]["Code"] == {"S3Bucket": "placeholder-bucket", "S3Key": "airwaves.zip"}
        for name, event in res["Properties"].get("Events", {}).items():
            if event["Type"] == "SQS":
                mapping = transformed["Resources"][f"{logical_id}{name}"]
                assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
                assert mapping["Properties"]["EventSourceArn"] == event["Properties"]["Queue"]


def test_rest_api_is_throttled(transformed):
    stage = next(r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage")
    (setting,) = stage["Properties"]["MethodSettings"]
    assert setting["ResourcePath"] == "/*" and setting["HttpMethod"] == "*"
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottleBurstLimit"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_parameter_is_documented(path):
    for name, spec in load(path)["Parameters"].items():
        assert len(spec.get("Description", "").strip()) > 10, f"{path.name}: parameter {name} has no Description"


# Actions AWS authorizes on no resource type (the Service Authorization Reference lists none, so
# the statement must say "*"): a statement of only these may, and nothing else.
NO_RESOURCE_LEVEL = frozenset({"transcribe:StartStreamTranscription"})


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_iam_is_least_privilege(path):
    """No wildcard action anywhere; no bare "*" resource (but for NO_RESOURCE_LEVEL actions, alone
    in their statement); every statement names its resources."""
    statements = list(policy_statements(load(path)))
    assert statements
    for rid, stmt in statements:
        actions = [stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"]
        assert all("*" not in a for a in actions), f"{rid}: wildcard action in {actions}"
        resources = stmt.get("Resource")
        if resources is None:  # resource policies (e.g. a queue policy) name their resource instead
            continue
        resources = resources if isinstance(resources, list) else [resources]
        for resource in resources:
            if resource == "*" and set(actions) <= NO_RESOURCE_LEVEL:
                continue
            assert resource != "*", f"{rid}: {actions} on every resource"
            if isinstance(resource, str):
                assert resource.startswith("arn:") and ":*:" not in resource, f"{rid}: {resource}"


def test_each_function_has_its_own_role_with_only_its_log_group():
    template = load(APP)
    roles = {res["Properties"]["Role"]["Fn::GetAtt"][0] for res in functions(template).values()}
    assert len(roles) == len(functions(template))
    for logical_id in functions(template):
        logs = [s for rid, s in policy_statements(template)
                if rid == f"{logical_id}Role" and any(a.startswith("logs:") for a in s["Action"])]
        assert logs == [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                         "Resource": {"Fn::Sub": f"${{{logical_id}LogGroup.Arn}}"}}]


def test_table_is_the_schema_on_demand_with_recovery_and_ttl():
    table = load(APP)["Resources"]["Table"]
    props = table["Properties"]
    want = schema.create_table_params("x")
    assert props["KeySchema"] == want["KeySchema"] == [{"AttributeName": "PK", "KeyType": "HASH"},
                                                       {"AttributeName": "SK", "KeyType": "RANGE"}]
    assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == set(schema.KEY_ATTRIBUTES)
    indexes = {g["IndexName"]: tuple(k["AttributeName"] for k in g["KeySchema"]) for g in props["GlobalSecondaryIndexes"]}
    assert indexes == schema.INDEXES == {"GSI1": ("GSI1PK", "GSI1SK"), "GSI2": ("GSI2PK", "GSI2SK")}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_secret_carries_every_key_the_code_and_the_nodes_read():
    used = set()
    for path in (ROOT / "functions").rglob("*.py"):
        used |= set(re.findall(r"""get_secret\(\s*["']([a-z0-9_]+)["']""", path.read_text()))
    assert "cursor_secret" in used, "the scan of get_secret() calls found nothing"
    gen = load(APP)["Resources"]["AppSecrets"]["Properties"]["GenerateSecretString"]
    template = json.loads(gen["SecretStringTemplate"])
    assert set(template) | {gen["GenerateStringKey"]} == used | {"livekit_api_key", "livekit_api_secret"}
    assert gen["GenerateStringKey"] == "livekit_api_secret" and gen["PasswordLength"] >= 32
    assert template["livekit_api_key"], "the nodes and the API need the key name from the start"


def test_alarms_cover_errors_throttles_and_every_dead_letter_queue():
    resources = load(APP)["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {(a["MetricName"], json.dumps(a.get("Dimensions", []))) for a in alarms}
    for logical_id in functions({"Resources": resources}):
        dims = json.dumps([{"Name": "FunctionName", "Value": {"Ref": logical_id}}])
        assert ("Errors", dims) in watched and ("Throttles", dims) in watched, logical_id
    dlqs = {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for r in resources.values() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    for dlq in dlqs | {"ScheduleDeadLetterQueue"}:
        dims = json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}])
        assert ("ApproximateNumberOfMessagesVisible", dims) in watched, dlq
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_scheduler_group_role_and_push_parameters():
    t = load(APP)
    resources = t["Resources"]
    assert resources["ScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"
    trust = resources["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    targets = {r["Properties"]["FunctionName"] for r in functions(t).values()
               if not r["Properties"].get("Events") and r["Properties"]["Handler"] != "app.app"}
    invoke = [s for rid, s in policy_statements(t) if rid == "SchedulerRole" and s["Action"] == ["lambda:InvokeFunction"]]
    invoked = json.dumps(invoke)
    assert all(f"function:{name}" in invoked for name in targets)
    assert {"ApnsPlatformApplicationArn", "FcmPlatformApplicationArn"} <= set(t["Parameters"])


def test_nested_cluster_stack_gets_every_parameter_it_needs():
    app, cluster = load(APP), load(CLUSTER)
    stack = app["Resources"]["LiveKitCluster"]
    assert stack["Type"] == "AWS::CloudFormation::Stack"
    assert stack["Properties"]["TemplateURL"] == "infra/livekit-cluster.yaml"
    given = set(stack["Properties"]["Parameters"])
    required = {name for name, spec in cluster["Parameters"].items() if "Default" not in spec}
    assert required <= given and given <= set(cluster["Parameters"])
    webhook = json.dumps(stack["Properties"]["Parameters"]["WebhookUrl"])
    assert "/prod/v1/webhooks/livekit" in webhook


def test_outputs_give_the_api_and_livekit_urls():
    outputs = load(APP)["Outputs"]
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert outputs["LiveKitUrl"]["Value"] == {"Fn::Sub": "wss://${LiveKitDomainName}"}
    assert outputs["StripeWebhookUrl"]["Value"]["Fn::Sub"].endswith("/v1/webhooks/stripe")


def test_functions_reach_only_stack_resources():
    """Every Ref/GetAtt inside a role's policy names something this template declares."""
    t = load(APP)
    declared = set(t["Resources"]) | set(t["Parameters"])
    for node in walk([r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Role"]):
        if isinstance(node, dict) and "Ref" in node and not node["Ref"].startswith("AWS::"):
            assert node["Ref"] in declared
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            assert node["Fn::GetAtt"][0] in declared
