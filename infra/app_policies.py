"""Least-privilege IAM for each Lambda function: named actions only, on named resources.

Every function gets its own role. What it may do is a list of grants chosen by what the function
is (the API handler, a function Scheduler invokes, a queue consumer); a function can be given a
narrower list by name in ``GRANTS_BY_FUNCTION``. A new function Chalice adds picks up the grants of
its kind without anyone editing this file.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.cfn import NO_VALUE, arn, get_att, if_, ref, statement, sub

# boto3 service names the app may create clients for, and the grant that covers each (the drift
# test fails when the code uses a service no grant covers, before a deploy meets AccessDenied).
SERVICE_GRANTS = {
    "dynamodb": "table",
    "secretsmanager": "secrets",
    "scheduler": "schedules",
    "sqs": "send_to_queues",
    "sns": "push",
    "s3": "media",
}

GRANTS_BY_KIND = {
    # HTTP routes and both webhooks: all data, schedules per Space, fan-out jobs, device registration,
    # and recorded media (replay URLs, playback playlists, deletes): the only kind that touches S3.
    "api": ["table", "secrets", "schedules", "send_to_queues", "push", "media"],
    # Invoked by Scheduler (reminder, start, no-show): may reschedule, fan out and notify.
    "lambda": ["table", "secrets", "schedules", "send_to_queues", "push"],
    # SQS consumers: read their own queue; may re-enqueue a split batch and notify.
    "sqs": ["table", "secrets", "send_to_queues", "push", "consume_own_queue"],
    # Chalice @app.schedule (EventBridge rule) handlers.
    "schedule": ["table", "secrets", "send_to_queues", "push"],
    "other": ["table", "secrets"],
}
# Narrower lists for functions known by Chalice name (e.g. {"background_jobs": ["table", "push", ...]}).
GRANTS_BY_FUNCTION: dict[str, list[str]] = {}

TABLE_ACTIONS = [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
]
SCHEDULE_ACTIONS = ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule",
                    "scheduler:UpdateSchedule"]
SCHEDULE_GROUP_ACTIONS = ["scheduler:GetScheduleGroup"]  # the health probe
QUEUE_SEND_ACTIONS = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
QUEUE_CONSUME_ACTIONS = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                         "sqs:ReceiveMessage"]
# Recorded media: presigned GETs are signed with the API's role, so it needs GetObject; it writes
# playback playlists, deletes a replay's objects, and lists only under the Space prefix.
MEDIA_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
MEDIA_PREFIX = "spaces/"
PUSH_ENDPOINT_ACTIONS = ["sns:DeleteEndpoint", "sns:GetEndpointAttributes", "sns:Publish"]


def grants_for(name: str, kind: str) -> list[str]:
    return GRANTS_BY_FUNCTION.get(name, GRANTS_BY_KIND.get(kind, GRANTS_BY_KIND["other"]))


def _endpoint_arns_of(app_param: str) -> dict[str, Any]:
    """Endpoints of a platform application: ``...:app/APNS/name`` owns ``...:endpoint/APNS/name/*``.

    The suffix appended before splitting keeps index 1 present even for an empty parameter, so the
    expression is valid whichever way CloudFormation evaluates the surrounding ``Fn::If``."""
    padded = {"Fn::Join": ["", [ref(app_param), ":app/"]]}
    app_path = {"Fn::Select": [1, {"Fn::Split": [":app/", padded]}]}
    return sub("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:endpoint/${AppPath}/*",
               {"AppPath": app_path})


def push_statements() -> list[Any]:
    """Device registration and delivery on the configured platform applications only."""
    apps = [if_("HasApns", ref("ApnsPlatformApplicationArn"), NO_VALUE),
            if_("HasFcm", ref("FcmPlatformApplicationArn"), NO_VALUE)]
    endpoints = [if_("HasApns", _endpoint_arns_of("ApnsPlatformApplicationArn"), NO_VALUE),
                 if_("HasFcm", _endpoint_arns_of("FcmPlatformApplicationArn"), NO_VALUE)]
    return [if_("HasPush", statement(["sns:CreatePlatformEndpoint", "sns:GetPlatformApplicationAttributes"], apps),
                NO_VALUE),
            if_("HasPush", statement(PUSH_ENDPOINT_ACTIONS, endpoints), NO_VALUE)]


def function_policy(*, log_group: str, grants: list[str], queues: list[str], own_queue: str | None,
                    scheduler_role: str) -> dict[str, Any]:
    """The inline policy document of one function's role."""
    builders: dict[str, Callable[[], list[Any]]] = {
        "table": lambda: [statement(TABLE_ACTIONS, [get_att("Table", "Arn"), sub("${Table.Arn}/index/*")])],
        "secrets": lambda: [statement(["secretsmanager:GetSecretValue"], ref("AppSecrets"))],
        "schedules": lambda: [
            statement(SCHEDULE_ACTIONS, arn("scheduler", "schedule/${ScheduleGroup}/*")),
            statement(SCHEDULE_GROUP_ACTIONS, get_att("ScheduleGroup", "Arn")),
            statement(["iam:PassRole"], get_att(scheduler_role, "Arn"),
                      Condition={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}),
        ],
        "send_to_queues": lambda: [statement(QUEUE_SEND_ACTIONS, [get_att(q, "Arn") for q in queues])]
        if queues else [],
        "consume_own_queue": lambda: [statement(QUEUE_CONSUME_ACTIONS, get_att(own_queue, "Arn"))]
        if own_queue else [],
        "push": push_statements,
        "media": lambda: [
            statement(MEDIA_OBJECT_ACTIONS, sub(f"${{MediaBucket.Arn}}/{MEDIA_PREFIX}*")),
            statement(["s3:ListBucket"], get_att("MediaBucket", "Arn"),
                      Condition={"StringLike": {"s3:prefix": [f"{MEDIA_PREFIX}*"]}}),
        ],
    }
    statements: list[Any] = [statement(["logs:CreateLogStream", "logs:PutLogEvents"],
                                       sub(f"${{{log_group}.Arn}}"))]
    for grant in grants:
        statements.extend(builders[grant]())
    return {"Version": "2012-10-17", "Statement": statements}


def lambda_assume_role() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def function_arn(function_name: str) -> dict[str, Any]:
    """A function's ARN from its fixed name (no reference to the function resource, so functions
    may carry it in their environment without a dependency cycle)."""
    return arn("lambda", f"function:{function_name}")


def scheduler_role(target_function_names: list[str], dead_letter_queue: str) -> dict[str, Any]:
    """The role EventBridge Scheduler assumes to invoke the schedule targets (this account only)."""
    invoke = [function_arn(name) for name in target_function_names]
    statements = [statement(["sqs:SendMessage"], get_att(dead_letter_queue, "Arn"))]
    if invoke:
        statements.insert(0, statement(["lambda:InvokeFunction"], invoke))
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
            }]},
            "Policies": [{"PolicyName": "invoke-schedule-targets",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }
