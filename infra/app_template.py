"""Builds ``template.yaml``: Chalice's SAM output for the prod stage plus everything around it.

Chalice owns the functions, their handlers, the REST API and its routes (so the template cannot
name a handler the app does not have). This module adds what Chalice does not model: the DynamoDB
table (from ``chalicelib/adapters/dynamodb/schema.py``), the one JSON secret, SQS queues with
dead-letter queues for every ``@app.on_sqs_message``, the Scheduler group and role for every
``@app.lambda_function``, SNS platform application parameters, a least-privilege role and a log
group per function, API throttling, alarms, the LiveKit cluster (nested stack) and outputs.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from chalicelib.domain.telemetry import (
    FAILED,
    MEDIA_WORKER_FAILURES,
    NAMESPACE,
    REFUSED,
    WEBHOOK_SOURCES,
    Dimension,
    Metric,
)
from infra import app_dashboard, app_policies
from infra.cfn import get_att, parameter, ref, sub
from infra.chalice_sam import ChaliceFunction, ChalicePackage, package
from infra.cluster_template import LOG_RETENTION_CHOICES

ROOT = Path(__file__).resolve().parents[1]
CODE_URI = "functions/"
CLUSTER_TEMPLATE = "infra/livekit-cluster.yaml"
STAGE = "prod"
LIVEKIT_WEBHOOK_PATH = "v1/webhooks/livekit"
STRIPE_WEBHOOK_PATH = "v1/webhooks/stripe"
REPLAY_RETENTION_CHOICES = [7, 14, 30, 60, 90]
SQS_VISIBILITY_FACTOR = 6     # AWS: a queue's visibility timeout >= 6 x its consumer's timeout
MAX_RECEIVES = 5              # deliveries before a message moves to the dead-letter queue

# The one JSON secret (``chalicelib/secrets.py``) holds every key the code reads with
# ``get_secret("<key>")`` plus the LiveKit pair the nodes read. ``livekit_api_secret`` is generated
# at creation so the LiveKit nodes start; ops fill the rest with ``infra/put_secrets.py``.
NODE_SECRET_KEYS = {"livekit_api_key", "livekit_api_secret", "media_worker_secret"}
LIVEKIT_API_KEY = "airwaves"
SECRET_READ = re.compile(r"""get_secret\(\s*["']([a-z0-9_]+)["']""")


def secret_keys(project_dir: Path) -> set[str]:
    """Keys the code reads (found in its ``get_secret`` calls) and the keys the LiveKit nodes read."""
    keys = set(NODE_SECRET_KEYS)
    for path in project_dir.rglob("*.py"):
        keys |= set(SECRET_READ.findall(path.read_text()))
    return keys


def python_version(root: Path = ROOT) -> str:
    """The Lambda runtime's Python version: set once, in ``.python-version``."""
    return (root / ".python-version").read_text().strip()


# The app's own metrics (EMF lines and log metric filters, so no role needs cloudwatch:PutMetricData).
METRIC_NAMESPACE = NAMESPACE
QUEUE_LAG_ALARM_SECONDS = 300  # a job that waited 5 minutes: the consumer is failing or far behind
# Refused webhook deliveries in 15 minutes that point at a wrong or rotated signing secret rather
# than a stray probe of the public URL (the sender retries each real event many times).
WEBHOOK_REFUSALS_ALARM = 5
WEBHOOK_REFUSALS_PERIOD = 900
# Cluster parameters the parent computes instead of asking for.
CLUSTER_INPUTS_FROM_THIS_STACK = {"AppSecretsArn", "WebhookUrl", "AlarmTopicArn", "ApiUrl", "MediaBucketName",
                                  "LogRetentionDays"}
# Cluster parameters that only matter when the cluster is created, so they may stay empty.
CLUSTER_ONLY = {"CertificateArn", "VpcId", "PublicSubnetIds", "CacheSubnetIds"}


def livekit_parameters() -> dict[str, Any]:
    """The cluster stack's parameters, asked here as ``LiveKit<Name>`` and passed through.

    AWS-specific types (VPC, subnet lists, the AMI's SSM parameter) become plain strings so the
    stack also deploys with ``LiveKitDeployment=external``; the nested stack checks them.
    """
    from infra import cluster_template

    loose_types = {"AWS::EC2::VPC::Id": "String", "List<AWS::EC2::Subnet::Id>": "CommaDelimitedList"}
    out = {}
    for name, spec in cluster_template.parameters().items():
        if name in CLUSTER_INPUTS_FROM_THIS_STACK:
            continue
        spec = dict(spec)
        if spec["Type"].startswith("AWS::SSM::Parameter::Value"):
            spec["Type"] = "String"
            spec["Description"] += " (an SSM parameter name)"
        elif spec["Type"] in loose_types:
            spec["Type"] = loose_types[spec["Type"]]
        if name in CLUSTER_ONLY:
            spec["Default"] = ""
            spec["Description"] += " Only for LiveKitDeployment=create."
        spec["Description"] = re.sub(r"\b({})\b".format("|".join(cluster_template.parameters())), r"LiveKit\1",
                                     spec["Description"])
        out[f"LiveKit{name}"] = spec
    return out


def parameters() -> dict[str, Any]:
    return {
        "LiveKitDeployment": parameter(
            "create: run the LiveKit cluster in this account (nested stack infra/livekit-cluster.yaml). "
            "external: use a LiveKit server you run elsewhere (put its key/secret in the app secret).",
            default="create", AllowedValues=["create", "external"]),
        **livekit_parameters(),
        "JwtJwksUrl": parameter("JWKS URL of the identity provider whose tokens the API accepts "
                                "(e.g. https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json)."),
        "JwtIssuer": parameter("Expected `iss` claim of API tokens (e.g. the Cognito user pool URL)."),
        "JwtAudience": parameter("Expected `aud` claim of API tokens (the app client id).", default="airwaves"),
        "ApnsPlatformApplicationArn": parameter(
            "SNS platform application (APNS) for iOS push; empty disables iOS push.", default="",
            AllowedPattern=r"^(arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:app/APNS(_SANDBOX)?/.+)?$"),
        "FcmPlatformApplicationArn": parameter(
            "SNS platform application (GCM/FCM) for Android push; empty disables Android push.", default="",
            AllowedPattern=r"^(arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:app/GCM/.+)?$"),
        "WebAppOrigin": parameter(
            "Origin of the web app allowed to call the API from browsers (CORS), e.g. "
            "https://app.example.com; empty: no browser app may call it.", default="",
            AllowedPattern=r"^(https?://[A-Za-z0-9.-]+(:\d+)?)?$"),
        "HostWebApp": parameter(
            "true: host the built web app (web/dist) in a private S3 bucket behind a CloudFront distribution, "
            "and allow its https://<distribution domain> as the API's CORS origin instead of WebAppOrigin; "
            "upload it with infra/publish_web.py. false: host it yourself at WebAppOrigin.",
            default="false", AllowedValues=["true", "false"]),
        "PublicBaseUrl": parameter(
            "Public address of the API where share pages (/s/{id}) are served, e.g. https://api.example.com; "
            "empty: share pages link relatively.", default="",
            AllowedPattern=r"^(https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?)?$"),
        "PayoutsReturnUrl": parameter(
            "Where Stripe sends a creator who finished Connect onboarding (your app's deep link or web page).",
            AllowedPattern=r"^https://.+"),
        "PayoutsRefreshUrl": parameter(
            "Where Stripe sends a creator whose onboarding link expired (a page that asks the API for a new one).",
            AllowedPattern=r"^https://.+"),
        "ApiThrottleRateLimit": parameter("Steady requests per second the REST API accepts across clients.",
                                          type_="Number", default=200, MinValue=1),
        "ApiThrottleBurstLimit": parameter("Request burst the REST API accepts above the steady rate.",
                                           type_="Number", default=400, MinValue=1),
        "AlarmEmail": parameter("Email subscribed to the alarm topic; empty: subscribe yourself.", default=""),
        "LogRetentionDays": parameter("Days the functions' and the media worker's logs are kept.", type_="Number",
                                      default=30, AllowedValues=LOG_RETENTION_CHOICES),
        "HlsCdnPublicKey": parameter(
            "PEM public key (RSA 2048) of the CDN in front of live HLS segments; its private half goes in the app "
            "secret as hls_cdn_private_key (README, 'Past one node'). Empty: no CDN, each listener fetches "
            "presigned segments from S3.", default="",
            AllowedPattern=r"^(-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*)?$"),
        "ReplayRetentionDays": parameter(
            "Days a Space's replay, clips and transcript are kept after it ends. The media bucket's lifecycle "
            "rule removes objects a day later than this (S3 counts from an object's creation).",
            type_="Number", default=30, AllowedValues=REPLAY_RETENTION_CHOICES),
    }


def conditions() -> dict[str, Any]:
    not_empty = lambda p: {"Fn::Not": [{"Fn::Equals": [ref(p), ""]}]}  # noqa: E731
    return {
        "CreateLiveKitCluster": {"Fn::Equals": [ref("LiveKitDeployment"), "create"]},
        "HasApns": not_empty("ApnsPlatformApplicationArn"),
        "HasFcm": not_empty("FcmPlatformApplicationArn"),
        "HasPush": {"Fn::Or": [{"Condition": "HasApns"}, {"Condition": "HasFcm"}]},
        "HasAlarmEmail": not_empty("AlarmEmail"),
        "HostsWebApp": {"Fn::Equals": [ref("HostWebApp"), "true"]},
        "UsesHlsCdn": not_empty("HlsCdnPublicKey"),
    }


def rules() -> dict[str, Any]:
    """Refuse a cluster stack without the network and certificate it needs (before anything starts)."""
    needed = {"LiveKitVpcId": "a VPC", "LiveKitCertificateArn": "an ACM certificate"}
    assertions = [{"Assert": {"Fn::Not": [{"Fn::Equals": [ref(p), ""]}]},
                   "AssertDescription": f"LiveKitDeployment=create needs {what} ({p})"} for p, what in needed.items()]
    for p in ("LiveKitPublicSubnetIds", "LiveKitCacheSubnetIds"):
        assertions.append({"Assert": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref(p)]}, ""]}]},
                           "AssertDescription": f"LiveKitDeployment=create needs subnets ({p})"})
    return {"LiveKitClusterNeedsItsNetwork": {
        "RuleCondition": {"Fn::Equals": [ref("LiveKitDeployment"), "create"]}, "Assertions": assertions}}


def table_resource(project_dir: Path) -> dict[str, Any]:
    """The single table, declared from the same schema module the local stack and tests use."""
    from chalicelib.adapters.dynamodb import schema

    spec = schema.create_table_params("unused")
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": spec["BillingMode"],
            "AttributeDefinitions": spec["AttributeDefinitions"],
            "KeySchema": spec["KeySchema"],
            "GlobalSecondaryIndexes": spec["GlobalSecondaryIndexes"],
            "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "DeletionProtectionEnabled": True,
        },
    }


def media_bucket_resource() -> dict[str, Any]:
    """Recorded media (``spaces/<id>/...``, written by the media worker, presigned by the API):
    encrypted, no public access, TLS only, objects expire a day after the replay does."""
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "expire-recorded-media", "Status": "Enabled", "Prefix": "spaces/",
                 "ExpirationInDays": {"Fn::FindInMap": ["ReplayRetention", ref("ReplayRetentionDays"),
                                                        "ObjectDays"]},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]},
            # presigned playlists and segments play in browsers (hls.js fetches them cross-origin)
            "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["*"],
                                                 "AllowedHeaders": ["*"], "MaxAge": 3600}]},
        },
    }


def media_bucket_policy() -> dict[str, Any]:
    return {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": ref("MediaBucket"), "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            "Resource": [get_att("MediaBucket", "Arn"), sub("${MediaBucket.Arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Fn::If": ["UsesHlsCdn", distribution_reads("OnlyTheHlsCdnReadsLiveSegments",
                                                     sub("${MediaBucket.Arn}/spaces/*/live/*"), "HlsCdnDistribution"),
                    ref("AWS::NoValue")]}]}}}


# CloudFront managed policies (the same ids in every account); CachingOptimized leaves query
# strings out of the cache key, so one live segment is one object whoever's link fetched it.
CACHING_OPTIMIZED_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SECURITY_HEADERS_POLICY = "67f7725c-6f97-4210-82d7-5512b31e9d03"
SIMPLE_CORS_POLICY = "60669652-455b-4ae9-85a4-c4c02393f86c"  # Access-Control-Allow-Origin: * (hls.js, cross-origin)
HLS_CDN_URL = sub("https://${HlsCdnDistribution.DomainName}")
WEB_APP_URL = sub("https://${WebAppDistribution.DomainName}")


def distribution_reads(sid: str, objects: Any, distribution: str) -> dict[str, Any]:
    """The bucket policy statement that lets one CloudFront distribution (and no one else) read."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": ["s3:GetObject"], "Resource": objects, "Condition": {"StringEquals": {"AWS:SourceArn": sub(
                f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution}}}")}}}


def s3_origin_access_control(condition: str, name: str, description: str) -> dict[str, Any]:
    return {"Type": "AWS::CloudFront::OriginAccessControl", "Condition": condition, "Properties": {
        "OriginAccessControlConfig": {
            "Name": sub(f"${{AWS::StackName}}-{name}"), "Description": description,
            "OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"}}}


def s3_distribution(condition: str, comment: str, origin: tuple[str, str, str], config: dict[str, Any],
                    behaviour: dict[str, Any]) -> dict[str, Any]:
    """A CloudFront distribution of one private bucket read through its Origin Access Control
    (``origin``: its id, the bucket and the control), GET and HEAD only, managed caching."""
    origin_id, bucket, access_control = origin
    return {"Type": "AWS::CloudFront::Distribution", "Condition": condition, "Properties": {"DistributionConfig": {
        "Comment": sub(f"${{AWS::StackName}} {comment}"), "Enabled": True, "HttpVersion": "http2and3",
        "PriceClass": "PriceClass_100", **config,
        "Origins": [{"Id": origin_id, "DomainName": get_att(bucket, "RegionalDomainName"),
                     "OriginAccessControlId": get_att(access_control, "Id"),
                     "S3OriginConfig": {"OriginAccessIdentity": ""}}],
        "DefaultCacheBehavior": {"TargetOriginId": origin_id, "AllowedMethods": ["GET", "HEAD"],
                                 "CachedMethods": ["GET", "HEAD"], "CachePolicyId": CACHING_OPTIMIZED_POLICY,
                                 **behaviour}}}}


def web_app_resources() -> dict[str, Any]:
    """The optional hosted web app (``HostWebApp=true``): a private bucket CloudFront alone may read
    (Origin Access Control, the bucket policy names the distribution), HTTPS only, managed caching
    and security-headers policies. ``infra/publish_web.py`` uploads ``web/dist`` and ``config.json``."""
    bucket_arn, objects = get_att("WebAppBucket", "Arn"), sub("${WebAppBucket.Arn}/*")
    return {
        "WebAppBucket": {"Type": "AWS::S3::Bucket", "Condition": "HostsWebApp", "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}},
        "WebAppBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Condition": "HostsWebApp", "Properties": {
            "Bucket": ref("WebAppBucket"), "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket",
                                                                                   "s3:PutObject", "s3:DeleteObject"],
                 "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                distribution_reads("OnlyThisDistributionReads", objects, "WebAppDistribution"),
            ]}}},
        "WebAppOriginAccessControl": s3_origin_access_control(
            "HostsWebApp", "web-app", "CloudFront signs its reads of the web app bucket"),
        "WebAppDistribution": s3_distribution(
            "HostsWebApp", "web app", ("web-app-bucket", "WebAppBucket", "WebAppOriginAccessControl"),
            {"DefaultRootObject": "index.html"},
            {"ViewerProtocolPolicy": "redirect-to-https", "Compress": True,
             "ResponseHeadersPolicyId": SECURITY_HEADERS_POLICY}),
    }


def hls_cdn_resources() -> dict[str, Any]:
    """The optional CDN in front of live HLS segments (``HlsCdnPublicKey`` set): CloudFront reads
    only ``spaces/*/live/*`` of the media bucket (Origin Access Control), serves only URLs signed
    by the key group's key (``adapters/cloudfront.py`` signs one policy per Space and window), and
    caches each segment once, query strings left out of the key."""
    when = {"Condition": "UsesHlsCdn"}
    return {
        "HlsCdnKey": {"Type": "AWS::CloudFront::PublicKey", **when, "Properties": {"PublicKeyConfig": {
            "Name": sub("${AWS::StackName}-hls-cdn"), "CallerReference": sub("${AWS::StackName}-hls-cdn"),
            "EncodedKey": ref("HlsCdnPublicKey"), "Comment": "Verifies the API's signed live segment URLs"}}},
        "HlsCdnKeyGroup": {"Type": "AWS::CloudFront::KeyGroup", **when, "Properties": {"KeyGroupConfig": {
            "Name": sub("${AWS::StackName}-hls-cdn"), "Items": [ref("HlsCdnKey")]}}},
        "HlsCdnOriginAccessControl": s3_origin_access_control(
            "UsesHlsCdn", "hls-cdn", "CloudFront signs its reads of live segments"),
        "HlsCdnDistribution": s3_distribution(
            "UsesHlsCdn", "live HLS segments", ("media-bucket", "MediaBucket", "HlsCdnOriginAccessControl"), {},
            {"ViewerProtocolPolicy": "https-only", "Compress": False, "ResponseHeadersPolicyId": SIMPLE_CORS_POLICY,
             "TrustedKeyGroups": [ref("HlsCdnKeyGroup")]}),
    }


def mappings() -> dict[str, Any]:
    """Objects outlive the replay by a day (CloudFormation has no arithmetic, hence a map)."""
    return {"ReplayRetention": {str(days): {"ObjectDays": days + 1} for days in REPLAY_RETENTION_CHOICES}}


def secret_resource(keys: set[str]) -> dict[str, Any]:
    import json

    template = dict.fromkeys(keys - {"livekit_api_secret"}, "")
    template["livekit_api_key"] = LIVEKIT_API_KEY
    return {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Description": "Airwaves secrets (one JSON object): Stripe keys and webhook secrets, LiveKit API "
                           "key/secret, cursor key. Read by the functions (cached 5 min) and the LiveKit nodes.",
            "GenerateSecretString": {
                "SecretStringTemplate": json.dumps(template, sort_keys=True),
                "GenerateStringKey": "livekit_api_secret",
                "PasswordLength": 48,
                "ExcludePunctuation": True,
            },
        },
    }


def queue_name_of(event: dict[str, Any]) -> str:
    """The queue name an ``@app.on_sqs_message`` event names (Chalice writes an ARN or a Sub of one)."""
    queue = event["Properties"]["Queue"]
    text = queue["Fn::Sub"] if isinstance(queue, dict) else queue
    if isinstance(text, list):
        text = text[0]
    return text.rsplit(":", 1)[-1]


def logical(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


class AppTemplate:
    """Collects the resources while walking Chalice's functions; ``build()`` returns the template."""

    def __init__(self, pkg: ChalicePackage, *, project_dir: Path, runtime: str, settings: dict[str, Any]) -> None:
        self.pkg = pkg
        self.project_dir = project_dir
        self.runtime = runtime
        self.settings = settings
        self.template = copy.deepcopy(pkg.sam)
        self.resources: dict[str, Any] = self.template["Resources"]
        self.queues: dict[str, str] = {}        # queue logical id -> its dead-letter queue logical id
        self.queue_names: dict[str, str] = {}   # queue logical id -> the name the app uses
        self.own_queue: dict[str, str] = {}     # function logical id -> the queue it consumes

    # -- what Chalice gives ------------------------------------------------------------------
    def functions(self) -> list[ChaliceFunction]:
        return sorted(self.pkg.functions, key=lambda f: f.logical_id)

    def check_chalice_output(self) -> None:
        roles = [k for k, v in self.resources.items() if v["Type"] == "AWS::IAM::Role"]
        if roles:
            raise SystemExit(f"chalicefile.json's {self.pkg.stage} stage lets Chalice create IAM roles {roles}; "
                             "set manage_iam_role/autogen_policy to false: roles are defined per function here")

    # -- queues ------------------------------------------------------------------------------
    def add_queues(self) -> None:
        for fn in self.functions():
            props = self.resources[fn.logical_id]["Properties"]
            for event in props.get("Events", {}).values():
                if event["Type"] != "SQS":
                    continue
                name = queue_name_of(event)
                queue_id, dlq_id = f"{logical(name)}Queue", f"{logical(name)}DeadLetterQueue"
                timeout = props.get("Timeout", 60)
                self.resources[dlq_id] = {"Type": "AWS::SQS::Queue", "Properties": {
                    "QueueName": f"{name}-dlq", "MessageRetentionPeriod": 14 * 24 * 3600,
                    "SqsManagedSseEnabled": True}}
                self.resources[queue_id] = {"Type": "AWS::SQS::Queue", "Properties": {
                    "QueueName": name, "VisibilityTimeout": SQS_VISIBILITY_FACTOR * timeout,
                    "SqsManagedSseEnabled": True,
                    "RedrivePolicy": {"deadLetterTargetArn": get_att(dlq_id, "Arn"), "maxReceiveCount": MAX_RECEIVES}}}
                event["Properties"]["Queue"] = get_att(queue_id, "Arn")
                self.queues[queue_id] = dlq_id
                self.queue_names[queue_id] = name
                self.own_queue[fn.logical_id] = queue_id

    # -- scheduler ---------------------------------------------------------------------------
    def schedule_targets(self) -> list[ChaliceFunction]:
        return [fn for fn in self.functions() if fn.kind == "lambda"]

    def add_scheduler(self) -> None:
        self.resources["ScheduleGroup"] = {"Type": "AWS::Scheduler::ScheduleGroup",
                                           "Properties": {"Name": sub("${AWS::StackName}-spaces")}}
        self.resources["ScheduleDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
            "MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}}
        self.resources["SchedulerRole"] = app_policies.scheduler_role(
            [fn.function_name for fn in self.schedule_targets()], "ScheduleDeadLetterQueue")

    # -- functions ---------------------------------------------------------------------------
    def environment(self) -> dict[str, Any]:
        """Variables that point the app at this stack's resources and parameters.

        Only settings the app has become variables (``tests/infra`` fails when a setting that has
        no production value yet is not wired here). Conventions that pick up new handlers:
        ``<function>_function_arn`` for each Scheduler target, ``<x>_queue_url``/``<x>_queue_name``
        for the queue whose name is the default of ``<x>_queue_name``.
        """
        wiring: dict[str, Any] = {
            "aws_region": ref("AWS::Region"),
            "table_name": ref("Table"),
            "secrets_arn": ref("AppSecrets"),
            "jwt_jwks_url": ref("JwtJwksUrl"),
            "jwt_issuer": ref("JwtIssuer"),
            "jwt_audience": ref("JwtAudience"),
            "livekit_url": sub("wss://${LiveKitDomainName}"),
            "livekit_api_url": sub("https://${LiveKitDomainName}"),
            "schedule_group": ref("ScheduleGroup"),
            "scheduler_role_arn": get_att("SchedulerRole", "Arn"),
            "schedule_dead_letter_arn": get_att("ScheduleDeadLetterQueue", "Arn"),
            "apns_platform_application_arn": ref("ApnsPlatformApplicationArn"),
            "fcm_platform_application_arn": ref("FcmPlatformApplicationArn"),
            "payouts_return_url": ref("PayoutsReturnUrl"),
            "payouts_refresh_url": ref("PayoutsRefreshUrl"),
            "web_app_url": {"Fn::If": ["HostsWebApp", WEB_APP_URL, ref("WebAppOrigin")]},
            "public_base_url": ref("PublicBaseUrl"),
            "cors_allowed_origins": {"Fn::If": ["HostsWebApp", sub('["https://${WebAppDistribution.DomainName}"]'),
                                                sub('["${WebAppOrigin}"]')]},
            "media_bucket": ref("MediaBucket"),
            "replay_retention_days": ref("ReplayRetentionDays"),
            "hls_cdn_url": {"Fn::If": ["UsesHlsCdn", HLS_CDN_URL, ""]},
            "hls_cdn_key_id": {"Fn::If": ["UsesHlsCdn", ref("HlsCdnKey"), ""]},
        }
        for fn in self.schedule_targets():
            wiring[f"{fn.name}_function_arn"] = app_policies.function_arn(fn.function_name)
        queue_by_name = {name: queue_id for queue_id, name in self.queue_names.items()}
        for setting, default in self.settings.items():
            if setting.endswith("_queue_name") and default in queue_by_name:
                prefix = setting.removesuffix("_queue_name")
                wiring[setting] = get_att(queue_by_name[default], "QueueName")
                wiring[f"{prefix}_queue_url"] = ref(queue_by_name[default])
        return {f"AIRWAVES_{k.upper()}": v for k, v in wiring.items() if k in self.settings}

    def add_functions(self) -> None:
        queues = sorted(self.queues)
        environment = self.environment()
        for fn in self.functions():
            res = self.resources[fn.logical_id]
            props = res["Properties"]
            props["FunctionName"] = fn.function_name
            props["Runtime"] = f"python{self.runtime}"
            props["CodeUri"] = CODE_URI
            props["Role"] = get_att(f"{fn.logical_id}Role", "Arn")
            props["LoggingConfig"] = {"LogGroup": ref(f"{fn.logical_id}LogGroup")}
            variables = props.setdefault("Environment", {}).setdefault("Variables", {})
            variables.update(environment)
            self.resources[f"{fn.logical_id}LogGroup"] = {
                "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                "Properties": {"LogGroupName": f"/aws/lambda/{fn.function_name}",
                               "RetentionInDays": ref("LogRetentionDays")}}
            policy = app_policies.function_policy(
                log_group=f"{fn.logical_id}LogGroup", grants=app_policies.grants_for(fn.name, fn.kind),
                queues=queues, own_queue=self.own_queue.get(fn.logical_id), scheduler_role="SchedulerRole")
            self.resources[f"{fn.logical_id}Role"] = {"Type": "AWS::IAM::Role", "Properties": {
                "Description": f"What {fn.function_name} ({fn.handler}) may do, and nothing else",
                "AssumeRolePolicyDocument": app_policies.lambda_assume_role(),
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": policy}]}}

    # -- api ---------------------------------------------------------------------------------
    def add_api_settings(self) -> None:
        api = self.resources["RestAPI"]["Properties"]
        api["MethodSettings"] = [{
            "ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
            "ThrottlingRateLimit": ref("ApiThrottleRateLimit"), "ThrottlingBurstLimit": ref("ApiThrottleBurstLimit"),
        }]
        add_contract_gateway_answers(api["DefinitionBody"])

    def api_url(self, path: str = "") -> dict[str, Any]:
        return sub(f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{self.pkg.api_gateway_stage}/{path}")

    def api_dimensions(self) -> dict[str, str]:
        """The dimensions of the REST API's own metrics (AWS/ApiGateway: 5XXError, Latency, ...)."""
        return {"ApiName": self.pkg.app_name, "Stage": self.pkg.api_gateway_stage}

    # -- alarms ------------------------------------------------------------------------------
    def add_alarms(self) -> None:
        self.resources["AlarmTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": sub("${AWS::StackName} alarms"), "KmsMasterKeyId": "alias/aws/sns"}}
        self.resources["AlarmEmailSubscription"] = {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail",
                                                    "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email",
                                                                   "Endpoint": ref("AlarmEmail")}}

        def alarm(description: str, namespace: str, metric: str, dimensions: dict[str, Any], stat: str = "Sum",
                  threshold: int = 1, period: int = 300) -> dict[str, Any]:
            return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Statistic": stat, "Period": period, "EvaluationPeriods": 1, "Threshold": threshold,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopic")], "OKActions": [ref("AlarmTopic")]}}

        for fn in self.functions():
            dims = {"FunctionName": ref(fn.logical_id)}
            self.resources[f"{fn.logical_id}ErrorsAlarm"] = alarm(
                f"{fn.function_name} raised errors", "AWS/Lambda", "Errors", dims)
            self.resources[f"{fn.logical_id}ThrottlesAlarm"] = alarm(
                f"{fn.function_name} was throttled", "AWS/Lambda", "Throttles", dims)
        self.resources["ApiServerErrorsAlarm"] = alarm("The REST API answered 5xx", "AWS/ApiGateway", "5XXError",
                                                       self.api_dimensions())
        for dlq in sorted(set(self.queues.values()) | {"ScheduleDeadLetterQueue"}):
            self.resources[f"{dlq}Alarm"] = alarm(
                f"Messages are waiting in {dlq} (failed deliveries to inspect and redrive)", "AWS/SQS",
                "ApproximateNumberOfMessagesVisible", {"QueueName": get_att(dlq, "QueueName")}, stat="Maximum")
        self.add_media_worker_failure_alarm(alarm)
        self.add_app_metric_alarms(alarm)

    def add_app_metric_alarms(self, alarm: Any) -> None:
        """Alarms on the app's own EMF metrics (``chalicelib/domain/telemetry.py`` names them)."""
        for source in WEBHOOK_SOURCES:
            self.resources[f"{logical(source)}WebhookFailuresAlarm"] = alarm(
                f"{source} webhook deliveries failed (answered 5xx; the sender retries): see the functions' "
                f"'event' log lines with source {source} and outcome {FAILED}", METRIC_NAMESPACE,
                Metric.webhook_events.value, {Dimension.source.value: source, Dimension.outcome.value: FAILED})
            self.resources[f"{logical(source)}WebhookRefusalsAlarm"] = alarm(
                f"{source} webhook deliveries are refused (bad signature or body): is the {source} signing secret in "
                "the app secret current? See the functions' 'event' log lines with outcome "
                f"{REFUSED} and their error", METRIC_NAMESPACE, Metric.webhook_events.value,
                {Dimension.source.value: source, Dimension.outcome.value: REFUSED},
                threshold=WEBHOOK_REFUSALS_ALARM, period=WEBHOOK_REFUSALS_PERIOD)
        self.resources["QueueLagAlarm"] = alarm(
            f"A work-queue job waited {QUEUE_LAG_ALARM_SECONDS} s or more before it was handled", METRIC_NAMESPACE,
            Metric.queue_lag.value, {}, stat="Maximum", threshold=QUEUE_LAG_ALARM_SECONDS)
        del self.resources["QueueLagAlarm"]["Properties"]["Dimensions"]  # the metric has none

    def add_media_worker_failure_alarm(self, alarm: Any) -> None:
        """The API logs each worker failure it is told of or sees as one JSON line
        (``chalicelib/services/worker_failures.py``); a metric filter on every function's log group (a
        dispatch can fail in any of them) counts those lines into the metric. The worker adds the
        failures only it sees as EMF in its own shipped log (``livekit/worker/airwaves_media/logs.py``),
        so no role needs cloudwatch:PutMetricData, which cannot be limited to a resource."""
        from chalicelib.services.worker_failures import FILTER_PATTERN

        for fn in self.functions():
            self.resources[f"{fn.logical_id}MediaWorkerFailureFilter"] = {
                "Type": "AWS::Logs::MetricFilter", "Properties": {
                    "LogGroupName": ref(f"{fn.logical_id}LogGroup"), "FilterPattern": FILTER_PATTERN,
                    "MetricTransformations": [{"MetricNamespace": METRIC_NAMESPACE,
                                               "MetricName": MEDIA_WORKER_FAILURES, "MetricValue": "1",
                                               "Unit": "Count"}]}}
        self.resources["MediaWorkerFailuresAlarm"] = alarm(
            "The media worker failed (a replay or clip reported failed, a clip timed out, or its dispatch was refused); "
            "see media_worker_failure lines in the functions' logs", METRIC_NAMESPACE,
            MEDIA_WORKER_FAILURES, {})
        del self.resources["MediaWorkerFailuresAlarm"]["Properties"]["Dimensions"]  # the metric has none

    # -- livekit -----------------------------------------------------------------------------
    def add_livekit_cluster(self) -> None:
        params: dict[str, Any] = {}
        for name, spec in livekit_parameters().items():
            child = name.removeprefix("LiveKit")
            params[child] = {"Fn::Join": [",", ref(name)]} if spec["Type"] == "CommaDelimitedList" else ref(name)
        params["AppSecretsArn"] = ref("AppSecrets")
        params["WebhookUrl"] = self.api_url(LIVEKIT_WEBHOOK_PATH)
        params["AlarmTopicArn"] = ref("AlarmTopic")
        params["ApiUrl"] = self.api_url()
        params["MediaBucketName"] = ref("MediaBucket")
        params["LogRetentionDays"] = ref("LogRetentionDays")
        self.resources["LiveKitCluster"] = {"Type": "AWS::CloudFormation::Stack", "Condition": "CreateLiveKitCluster",
                                            "Properties": {"TemplateURL": CLUSTER_TEMPLATE, "Parameters": params}}

    # -- outputs -----------------------------------------------------------------------------
    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ApiUrl": {"Description": "Base URL of the API (append v1/...)", "Value": self.api_url()},
            "StripeWebhookUrl": {"Description": "Stripe webhook endpoint (account and Connect events)",
                                 "Value": self.api_url(STRIPE_WEBHOOK_PATH)},
            "LiveKitWebhookUrl": {"Description": "Where LiveKit sends room events",
                                  "Value": self.api_url(LIVEKIT_WEBHOOK_PATH)},
            "LiveKitUrl": {"Description": "LiveKit URL clients connect to", "Value": sub("wss://${LiveKitDomainName}")},
            "LiveKitLoadBalancerDnsName": {
                "Condition": "CreateLiveKitCluster",
                "Description": "Point LiveKitDomainName here (CNAME or alias) unless LiveKitHostedZoneId was set",
                "Value": get_att("LiveKitCluster", "Outputs.LoadBalancerDnsName")},
            "TableName": {"Description": "The DynamoDB table", "Value": ref("Table")},
            "SecretsArn": {"Description": "The app's JSON secret (infra/put_secrets.py edits it)",
                           "Value": ref("AppSecrets")},
            "AlarmTopicArn": {"Description": "Alarms publish here", "Value": ref("AlarmTopic")},
            "DashboardUrl": {"Description": "The CloudWatch dashboard of the app's business and health metrics",
                             "Value": app_dashboard.DASHBOARD_URL},
            "ScheduleGroupName": {"Description": "EventBridge Scheduler group of per-Space schedules",
                                  "Value": ref("ScheduleGroup")},
            "MediaBucketName": {"Description": "Recorded media (the media worker's AIRWAVES_MEDIA_BUCKET)",
                                "Value": ref("MediaBucket")},
            "MediaBucketArn": {"Description": "Recorded media bucket ARN (grant the worker spaces/* only)",
                               "Value": get_att("MediaBucket", "Arn")},
        }
        hosted = {"WebAppUrl": ("The hosted web app (its origin is the API's CORS origin)", WEB_APP_URL),
                  "WebAppBucketName": ("Upload web/dist here (infra/publish_web.py)", ref("WebAppBucket")),
                  "WebAppDistributionId": ("Invalidate after an upload", ref("WebAppDistribution"))}
        for name, (description, value) in hosted.items():
            out[name] = {"Condition": "HostsWebApp", "Description": description, "Value": value}
        out["HlsCdnUrl"] = {"Condition": "UsesHlsCdn", "Description": "The CDN live HLS segments come from",
                            "Value": HLS_CDN_URL}
        for queue_id in sorted(self.queues):
            out[f"{queue_id}Url"] = {"Description": f"SQS queue {self.queue_names[queue_id]}", "Value": ref(queue_id)}
        for key in ("RestAPIId", "APIHandlerName", "APIHandlerArn", "EndpointURL"):
            if key in self.template.get("Outputs", {}):
                out[key] = self.template["Outputs"][key]
        return out

    def build(self) -> dict[str, Any]:
        self.check_chalice_output()
        self.resources["Table"] = table_resource(self.project_dir)
        self.resources["AppSecrets"] = secret_resource(secret_keys(self.project_dir))
        self.resources["MediaBucket"] = media_bucket_resource()
        self.resources["MediaBucketPolicy"] = media_bucket_policy()
        self.resources.update(web_app_resources())
        self.resources.update(hls_cdn_resources())
        self.add_queues()
        self.add_scheduler()
        self.add_functions()
        if "RestAPI" in self.resources:
            self.add_api_settings()
        self.add_alarms()
        self.resources["Dashboard"] = app_dashboard.dashboard_resource(
            self.api_dimensions(), queue_lag_alarm_seconds=QUEUE_LAG_ALARM_SECONDS)
        self.add_livekit_cluster()
        resources = {k: self.resources[k] for k in sorted(self.resources)}
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Description": "Airwaves: live audio rooms API (Chalice app, prod stage), data, schedules, queues, "
                           "push, secrets, alarms, the LiveKit cluster and optionally the hosted web app",
            "Metadata": {"AWS::CloudFormation::Interface": {"ParameterGroups": [
                {"Label": {"default": "LiveKit"}, "Parameters": [p for p in parameters() if p.startswith("LiveKit")]},
                {"Label": {"default": "API"}, "Parameters": ["JwtJwksUrl", "JwtIssuer", "JwtAudience",
                                                             "ApiThrottleRateLimit", "ApiThrottleBurstLimit"]},
                {"Label": {"default": "Push"}, "Parameters": ["ApnsPlatformApplicationArn", "FcmPlatformApplicationArn"]},
                {"Label": {"default": "Payouts"}, "Parameters": ["PayoutsReturnUrl", "PayoutsRefreshUrl"]},
                {"Label": {"default": "Web app"}, "Parameters": ["HostWebApp", "WebAppOrigin", "PublicBaseUrl"]},
                {"Label": {"default": "Operations"}, "Parameters": ["AlarmEmail", "LogRetentionDays"]},
                {"Label": {"default": "Recorded media"}, "Parameters": ["ReplayRetentionDays"]},
            ]}},
            "Parameters": parameters(),
            "Mappings": mappings(),
            "Rules": rules(),
            "Conditions": conditions(),
            "Resources": resources,
            "Outputs": self.outputs(),
        }


ANY_METHOD = "x-amazon-apigateway-any-method"


def add_contract_gateway_answers(swagger: dict[str, Any]) -> None:
    """Unknown paths and methods answered in the contract's error shape, as the local server does
    (``infra/local/api_server.py``). API Gateway answers both with MISSING_AUTHENTICATION_TOKEN (403,
    "Missing Authentication Token"), so: every path also takes ANY method (declared methods win)
    into the API's Lambda, whose app answers 405 ``method_not_allowed`` with ``Allow``; what is
    left, a path no route has, answers 404 ``not_found``."""
    from chalicelib.api.errors import NOT_FOUND_PATH, error_body

    for methods in swagger["paths"].values():
        declared = next(spec for method, spec in methods.items() if method != ANY_METHOD)
        methods[ANY_METHOD] = {"produces": ["application/json"], "responses": declared["responses"],
                               "x-amazon-apigateway-integration": copy.deepcopy(declared["x-amazon-apigateway-integration"])}
    swagger["x-amazon-apigateway-gateway-responses"] = {"MISSING_AUTHENTICATION_TOKEN": {
        "statusCode": 404, "responseParameters": {"gatewayresponse.header.Content-Type": "'application/json'"},
        "responseTemplates": {"application/json": json.dumps(error_body(*NOT_FOUND_PATH))}}}


def settings_fields(project_dir: Path) -> dict[str, Any]:
    """The app's settings (``chalicelib.settings.Settings``) and their defaults."""
    from chalicelib.settings import Settings

    return {name: field.default for name, field in Settings.model_fields.items()}


def build(project_dir: Path = ROOT / "functions", *, stage: str = STAGE, root: Path = ROOT) -> dict[str, Any]:
    pkg = package(str(project_dir), stage, CODE_URI)
    return AppTemplate(pkg, project_dir=project_dir, runtime=python_version(root),
                       settings=settings_fields(project_dir)).build()
