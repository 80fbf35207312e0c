"""What ``chalice package --stage <stage>`` writes as ``sam.json``, produced in process.

It runs Chalice's own packaging path (config loading with the stage's environment, application
graph, build stage, ``SAMTemplateGenerator``) with one step swapped: instead of pip-building a
deployment zip, each function's ``CodeUri`` is the source folder, because ``sam build`` builds the
code from ``functions/`` and ``functions/requirements.txt``. That keeps generation offline and
fast; ``tests/infra/test_template_drift.py`` compares the result with the real CLI's output.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChaliceFunction:
    """One Lambda function of the app as Chalice models it."""

    logical_id: str      # resource name in the SAM template (e.g. ``APIHandler``)
    name: str            # Chalice's name (``api_handler``, the ``lambda_function`` name, the handler)
    function_name: str   # the name ``chalice deploy`` would give it (``airwaves-prod-space_start``)
    handler: str         # ``app.app``, ``app.<function>``
    kind: str            # "api" | "lambda" (invoked directly, e.g. by Scheduler) | "sqs" | "schedule" | other


@dataclass
class ChalicePackage:
    sam: dict[str, Any]
    functions: list[ChaliceFunction]
    app_name: str
    stage: str
    api_gateway_stage: str


def _source_dir_step(code_uri: str):
    from chalice.deploy.deployer import BaseDeployStep
    from chalice.deploy.models import Placeholder

    class SourceDirPackage(BaseDeployStep):
        """Stands in for Chalice's zip builder: the code location is the source folder."""

        def handle_deploymentpackage(self, config, resource) -> None:
            if isinstance(resource.filename, Placeholder):
                resource.filename = code_uri

    return SourceDirPackage()


def package(project_dir: str, stage: str, code_uri: str) -> ChalicePackage:
    """The SAM template Chalice generates for ``stage`` of the project in ``project_dir``."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.deployer import DeploymentPackager, ManagedLayerDeploymentPackager
    from chalice.package import SAMTemplateGenerator

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # Chalice's session wants a region
    factory = CLIFactory(project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    options = factory.create_package_options()
    packager = factory.create_app_packager(config, options, "cloudformation", "json")
    build_stage = packager._resource_builder._build_stage
    build_stage._steps = [
        _source_dir_step(code_uri) if isinstance(step, (DeploymentPackager, ManagedLayerDeploymentPackager))
        else step
        for step in build_stage._steps
    ]
    resources = packager._resource_builder.construct_resources(config, stage)
    sam = SAMTemplateGenerator(config, options).generate(resources)

    sqs_handlers = {r.lambda_function.resource_name for r in resources if isinstance(r, models.SQSEventSource)}
    scheduled = {r.lambda_function.resource_name for r in resources if isinstance(r, models.ScheduledEvent)}
    logical_ids = {res["Properties"]["Handler"]: logical_id for logical_id, res in sam["Resources"].items()
                   if res["Type"] == "AWS::Serverless::Function"}
    pure = {f.name for f in config.chalice_app.pure_lambda_functions}
    functions = []
    for r in resources:
        if not isinstance(r, models.LambdaFunction):
            continue
        if r.resource_name == "api_handler":
            kind = "api"
        elif r.resource_name in sqs_handlers:
            kind = "sqs"
        elif r.resource_name in scheduled:
            kind = "schedule"
        elif r.resource_name in pure:
            kind = "lambda"
        else:
            kind = "other"
        functions.append(ChaliceFunction(
            logical_id=logical_ids[r.handler], name=r.resource_name,
            function_name=r.function_name, handler=r.handler, kind=kind))
    return ChalicePackage(sam=sam, functions=functions, app_name=config.app_name, stage=stage,
                          api_gateway_stage=config.api_gateway_stage)
