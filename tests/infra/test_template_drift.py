"""template.yaml and the Chalice app cannot drift.

The reference is what the real ``chalice package --stage prod`` CLI writes: every route must be in
the template and reach the API handler, every handler must have its function with the same events,
the committed files must be what the generator writes today, and a handler added to the app shows
up in a regenerated template without anyone editing the generator.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import app_policies
from infra.app_template import ANY_METHOD, python_version
from infra.local.stage import stage_environment
from tests.infra.templates import APP, ROOT, functions, load, policy_statements, walk

GENERATOR = ROOT / "infra" / "build_template.py"
CHALICE = Path(sys.executable).with_name("chalice")
CODE_URI = "functions/"


def _env() -> dict[str, str]:
    return {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def cli_sam(tmp_path_factory) -> dict:
    """sam.json from the real Chalice CLI, run on a copy of the project so its deployment zip (pip
    builds it; pip's cache keeps that quick) stays out of the working tree."""
    work = tmp_path_factory.mktemp("chalice-project")
    project = work / "functions"
    shutil.copytree(ROOT / "functions", project, ignore=shutil.ignore_patterns("deployments", "__pycache__"))
    out = work / "out"
    res = subprocess.run([str(CHALICE), "package", "--stage", "prod", str(out)], cwd=project,
                         env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads((out / "sam.json").read_text())


@pytest.fixture(scope="module")
def template() -> dict:
    return load(APP)


def _routes(api: dict) -> dict[tuple[str, str], str]:
    """(path, method) -> the function resource its integration invokes."""
    routes = {}
    for path, methods in api["Properties"]["DefinitionBody"]["paths"].items():
        for method, spec in methods.items():
            if method == ANY_METHOD:  # not a route: undeclared methods, answered 405 by the app
                continue
            uri = spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            routes[(path, method)] = re.search(r"\$\{(\w+)\.Arn\}", uri).group(1)
    return routes


def _by_handler(resources: dict) -> dict[str, dict]:
    return {res["Properties"]["Handler"]: res for res in functions({"Resources": resources}).values()}


def test_committed_templates_are_what_the_generator_writes_now():
    res = subprocess.run([sys.executable, str(GENERATOR), "--check"], env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, f"{res.stderr}\nregenerate with: make template"


def test_every_route_is_in_the_template_and_reaches_the_api_handler(cli_sam, template):
    expected = _routes(cli_sam["Resources"]["RestAPI"])
    actual = _routes(template["Resources"]["RestAPI"])
    assert set(actual) == set(expected), "routes differ from `chalice package`: run make template"
    handler = template["Resources"]["APIHandler"]["Properties"]["Handler"]
    assert handler == cli_sam["Resources"]["APIHandler"]["Properties"]["Handler"] == "app.app"
    assert set(actual.values()) == {"APIHandler"}


def test_routes_match_the_app_itself(template):
    from app import app

    in_app = {(path, method.lower()) for path, entries in app.routes.items() for method in entries}
    assert in_app == set(_routes(template["Resources"]["RestAPI"]))


def test_every_chalice_handler_has_its_function_and_events(cli_sam, template):
    expected, actual = _by_handler(cli_sam["Resources"]), _by_handler(template["Resources"])
    assert set(actual) == set(expected), "handlers differ from `chalice package`: run make template"
    for handler, want in expected.items():
        got = actual[handler]["Properties"]
        want_events = {name: e["Type"] for name, e in want["Properties"].get("Events", {}).items()}
        assert {name: e["Type"] for name, e in got.get("Events", {}).items()} == want_events, handler
        for name, event in want["Properties"].get("Events", {}).items():
            if event["Type"] != "SQS":
                continue
            queue_name = json.dumps(event["Properties"]["Queue"]).rsplit(":", 1)[-1].strip('"}')
            queue_id = got["Events"][name]["Properties"]["Queue"]["Fn::GetAtt"][0]
            assert template["Resources"][queue_id]["Properties"]["QueueName"] == queue_name, handler


def test_in_process_package_equals_the_chalice_cli(cli_sam):
    """The generator's offline shortcut (no zip) must give what the CLI gives, code location aside."""
    code = ("import json;"
            "from infra.chalice_sam import package;"
            "print(json.dumps(package('functions', 'prod', 'X').sam))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    ours = json.loads(res.stdout)
    for template in (ours, cli_sam):
        for res_ in functions(template).values():
            res_["Properties"].pop("CodeUri")
    assert ours == cli_sam


def test_runtime_comes_from_python_version(template):
    assert python_version() == (ROOT / ".python-version").read_text().strip()
    runtimes = {res["Properties"]["Runtime"] for res in functions(template).values()}
    assert runtimes == {f"python{python_version()}"}


def test_function_environment_is_the_prod_stage_plus_stack_references(template):
    prod = stage_environment("prod")
    for logical_id, res in functions(template).items():
        env = res["Properties"]["Environment"]["Variables"]
        for name, value in prod.items():
            assert name in env, f"{logical_id} lacks {name} from chalicefile.json"
            if env[name] != value:
                assert isinstance(env[name], dict), f"{logical_id}: {name} differs from chalicefile.json"
        assert not any(k.endswith(("_SECRET", "_SECRET_KEY")) for k in env), "secrets belong in Secrets Manager"


def _needs_a_prod_value(name: str, default: object) -> bool:
    """A setting whose default only works locally: it points at the local stack or a placeholder
    domain, or it names a resource or address (``*_arn``, ``*_url``, ``*_name``, ``*_group``) and is
    empty by default."""
    text = str(default)
    if any(local in text for local in ("127.0.0.1", "localhost", "airwaves-local", ".example")):
        return True
    return text == "" and name.endswith(("_arn", "_url", "_name", "_group"))


def test_every_variable_is_a_setting_and_settings_prod_needs_are_set(template):
    from chalicelib.settings import Settings

    known = {f"AIRWAVES_{name.upper()}": name for name in Settings.model_fields}
    local_only = {"jwt_dev_secret"}  # the deployed stages verify JWKS; a dev secret must stay unset
    for logical_id, res in functions(template).items():
        env = res["Properties"]["Environment"]["Variables"]
        assert set(env) <= set(known), f"{logical_id} sets variables no setting reads: {set(env) - set(known)}"
        for var, name in known.items():
            default = Settings.model_fields[name].default
            if name in local_only:
                assert var not in env
            elif _needs_a_prod_value(name, default):
                assert var in env, (f"{logical_id}: setting {name} defaults to {default!r}; wire a prod value in "
                                    "infra/app_template.py (AppTemplate.environment) and run make template")
        for name in ("table_name", "secrets_arn", "jwt_jwks_url", "jwt_issuer", "jwt_audience", "livekit_url"):
            assert isinstance(env[f"AIRWAVES_{name.upper()}"], dict), f"{name} must come from this stack"
        assert env.get("AIRWAVES_AWS_REGION") == {"Ref": "AWS::Region"}, "clients must use the stack's region"


# API operations whose IAM permission has another name.
IAM_ACTIONS_OF = {
    "dynamodb:TransactWriteItems": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                    "dynamodb:ConditionCheckItem"],
    "dynamodb:TransactGetItems": ["dynamodb:GetItem"],
    "sqs:SendMessageBatch": ["sqs:SendMessage"],
    "sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
    "sqs:ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
    "s3:ListObjectsV2": ["s3:ListBucket"],
    "s3:DeleteObjects": ["s3:DeleteObject"],
    "s3:HeadObject": ["s3:GetObject"],
}


def _aws_calls() -> tuple[set[str], set[str]]:
    """(services the code creates clients for, IAM actions of the operations it calls on them)."""
    import boto3
    from botocore import xform_name

    sources = [p.read_text() for p in (ROOT / "functions").rglob("*.py")]
    services = set()
    for text in sources:
        services |= set(re.findall(r"""(?:client|resource|make_client)\(\s*["']([a-z0-9-]+)["']""", text))
    session = boto3.session.Session(region_name="us-east-1")
    operations: dict[str, list[str]] = {}
    for service in services:
        model = session.client(service).meta.service_model
        for op in model.operation_names:
            operations.setdefault(xform_name(op), []).append(f"{model.signing_name}:{op}")
    called = set()
    for text in sources:
        for name in re.findall(r"""(?:\b_?call\(\s*["']|client\.)([a-z_]+)""", text):
            for action in operations.get(name, []):
                called |= set(IAM_ACTIONS_OF.get(action, [action]))
    return services, called


# Calls only the local stack and tests make (schema.ensure_table); deployed, the stack owns the table.
LOCAL_ONLY_CALLS = {"dynamodb:CreateTable", "dynamodb:ListTables", "dynamodb:UpdateTimeToLive"}


def test_every_aws_operation_the_code_calls_is_granted(template):
    """An AWS call the code makes without a grant would meet AccessDenied only once deployed."""
    services, called = _aws_calls()
    called -= LOCAL_ONLY_CALLS
    assert {"dynamodb", "secretsmanager"} <= services and "dynamodb:Query" in called, "the scan lost its way"
    assert services <= set(app_policies.SERVICE_GRANTS), f"no grant covers {services - set(app_policies.SERVICE_GRANTS)}"
    granted = {action for _, stmt in policy_statements(template)
               for action in ([stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"])}
    assert called <= granted, f"the code calls {sorted(called - granted)}, which no role grants (infra/app_policies.py)"


def test_a_new_handler_appears_in_a_regenerated_template(tmp_path):
    """Add a route, a Scheduler target and a queue consumer to a copy of the app: the generator
    wires each (role, log group, alarms, queue and dead-letter queue, Scheduler permission)."""
    project = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", project, ignore=shutil.ignore_patterns("deployments", "__pycache__"))
    with (project / "app.py").open("a") as f:
        f.write('''

@app.route("/v1/drift-probe", methods=["GET"])
def drift_probe():
    return {}


@app.lambda_function(name="drift_target")
def drift_target(event, context):
    return {}


@app.on_sqs_message(queue="airwaves-drift-jobs", batch_size=5)
def drift_consumer(event):
    return None
''')
    out = tmp_path / "template.yaml"
    res = subprocess.run([sys.executable, str(GENERATOR), "--project-dir", str(project), "--out", str(out),
                          "--cluster-out", str(tmp_path / "cluster.yaml")], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    import yaml

    t = yaml.safe_load(out.read_text())
    resources = t["Resources"]
    assert "/v1/drift-probe" in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    by_handler = {r["Properties"]["Handler"]: k for k, r in functions(t).items()}
    target, consumer = by_handler["app.drift_target"], by_handler["app.drift_consumer"]
    for fn in (target, consumer):
        assert resources[fn]["Properties"]["Role"] == {"Fn::GetAtt": [f"{fn}Role", "Arn"]}
        assert resources[f"{fn}LogGroup"]["Type"] == "AWS::Logs::LogGroup"
        assert f"{fn}ErrorsAlarm" in resources and f"{fn}ThrottlesAlarm" in resources
    assert resources[target]["Properties"]["FunctionName"] == "airwaves-prod-drift_target"
    invoke = next(s for _, s in policy_statements({"Resources": {"SchedulerRole": resources["SchedulerRole"]}})
              if "lambda:InvokeFunction" in s["Action"])
    assert any("function:airwaves-prod-drift_target" in json.dumps(r) for r in invoke["Resource"])
    event = next(iter(resources[consumer]["Properties"]["Events"].values()))
    queue_id = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    queue = resources[queue_id]["Properties"]
    assert queue["QueueName"] == "airwaves-drift-jobs"
    dlq_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert resources[dlq_id]["Type"] == "AWS::SQS::Queue" and f"{dlq_id}Alarm" in resources
    consume = [s for rid, s in policy_statements(t) if rid == f"{consumer}Role" and "sqs:ReceiveMessage" in s["Action"]]
    assert consume and consume[0]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert not [s for rid, s in policy_statements(t) if rid == f"{target}Role" and "sqs:ReceiveMessage" in s["Action"]]
    assert any(node == {"Fn::GetAtt": [queue_id, "Arn"]} for node in walk(resources["APIHandlerRole"]))
