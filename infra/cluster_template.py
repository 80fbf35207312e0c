"""Builds ``infra/livekit-cluster.yaml``: the LiveKit cluster ``template.yaml`` nests.

An Auto Scaling group of EC2 nodes runs ``livekit-server`` (the version ``livekit/build.sh`` pins,
built from its Go module on first boot) directly on the host network; ElastiCache Redis routes
rooms across nodes; a network load balancer terminates TLS for signalling (443 -> 7880) and
TURN/TLS; ICE/TCP, the UDP media range and TURN/UDP reach each node's public IP directly. Each
node renders ``livekit/livekit.production.yaml`` at start (``infra/livekit_node/``) with its public
IP from instance metadata. The group scales on CPU; a lifecycle hook lets a node drain its rooms
before it is terminated. Beside livekit-server each node runs the media worker
(``livekit/worker/airwaves_media``, from ``MediaWorkerRepository`` at ``MediaWorkerCommit``, with that
commit's pinned ``livekit/worker/requirements.txt``) against LiveKit on localhost; it writes the
media bucket's ``spaces/*`` objects and calls the API's internal routes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra.cfn import arn, get_att, join, parameter, ref, statement, sub

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_CONFIG = ROOT / "livekit" / "livekit.production.yaml"
NODE_FILES = ROOT / "infra" / "livekit_node"
DRAIN_HOOK = "drain-rooms"
HEREDOC_END = "AIRWAVES_FILE_END"
MEDIA_WORKER_HEALTH_PORT = 8089
MEDIA_PREFIX = "spaces/"
AL2023_X86 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LOG_RETENTION_CHOICES = [7, 14, 30, 60, 90, 180, 365]  # days; the app's functions' logs take the same


def livekit_version(root: Path = ROOT) -> str:
    """The pinned livekit-server version: the one ``livekit/build.sh`` builds (one place)."""
    match = re.search(r'LIVEKIT_VERSION="\$\{LIVEKIT_VERSION:-(v[0-9.]+)\}"', (root / "livekit" / "build.sh").read_text())
    if not match:
        raise SystemExit("livekit/build.sh no longer pins LIVEKIT_VERSION the way this builder reads it")
    return match.group(1)


def config_ports(config_text: str) -> dict[str, int]:
    """The ports the production config uses (placeholders filled with harmless values to parse it)."""
    import string

    dummy = dict.fromkeys(re.findall(r"\$\{([A-Z_]+)\}", config_text), "x")
    config = yaml.safe_load(string.Template(config_text).substitute(dummy))
    rtc, turn = config["rtc"], config["turn"]
    if not turn.get("external_tls"):
        raise SystemExit("the production config must terminate TURN/TLS at the load balancer (turn.external_tls)")
    return {"signal": config["port"], "ice_tcp": rtc["tcp_port"], "udp_start": rtc["port_range_start"],
            "udp_end": rtc["port_range_end"], "turn_tls": turn["tls_port"], "turn_udp": turn["udp_port"]}


def parameters() -> dict[str, Any]:
    return {
        "DomainName": parameter("Host name clients use for LiveKit (wss://<name>), also the TURN domain.",
                                AllowedPattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"),
        "CertificateArn": parameter("ACM certificate (same region) for DomainName, used by the load balancer."),
        "HostedZoneId": parameter("Route 53 hosted zone of DomainName; when set, the alias record is created here.",
                                  default=""),
        "VpcId": parameter("VPC of the nodes, the load balancer and Redis.", type_="AWS::EC2::VPC::Id"),
        "PublicSubnetIds": parameter("Public subnets (two or more AZs) for the load balancer and the nodes.",
                                     type_="List<AWS::EC2::Subnet::Id>"),
        "CacheSubnetIds": parameter("Subnets (two or more AZs) for ElastiCache Redis.",
                                    type_="List<AWS::EC2::Subnet::Id>"),
        "InstanceType": parameter("EC2 instance type of a node (x86_64, matching ImageId); a c6i.xlarge carries "
                                  "~1,500 listeners of one Space at 60% CPU (README: Sizing).", default="c6i.xlarge"),
        "ImageId": parameter("AMI of the nodes: Amazon Linux 2023 (x86_64) from its public SSM parameter.",
                             type_="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", default=AL2023_X86),
        "MinNodes": parameter("Fewest nodes.", type_="Number", default=2, MinValue=1),
        "MaxNodes": parameter("Most nodes.", type_="Number", default=10, MinValue=1),
        "CpuTargetPercent": parameter("Average CPU the group scales to keep (60: 20 points below the 80% that "
                                      "bench_scale's per-listener cost was measured to).", type_="Number", default=60,
                                      MinValue=10, MaxValue=90),
        "DrainSeconds": parameter("How long a node being terminated keeps serving its rooms.", type_="Number",
                                  default=3600, MinValue=30, MaxValue=7200),
        "RedisNodeType": parameter("ElastiCache node type of the routing Redis (primary and replica).",
                                   default="cache.t4g.small"),
        "AppSecretsArn": parameter("The app's JSON secret holding livekit_api_key and livekit_api_secret."),
        "WebhookUrl": parameter("URL LiveKit posts room events to (the API's /v1/webhooks/livekit)."),
        "AlarmTopicArn": parameter("SNS topic the cluster's alarms notify."),
        "ApiUrl": parameter("Base URL of the API (the media worker's AIRWAVES_API_URL)."),
        "MediaBucketName": parameter("The media bucket the worker writes spaces/* to (AIRWAVES_MEDIA_BUCKET)."),
        "LogRetentionDays": parameter("Days the media worker's logs are kept in CloudWatch Logs.", type_="Number",
                                      default=30, AllowedValues=LOG_RETENTION_CHOICES),
        "MediaWorkerRepository": parameter(
            "Git URL the nodes clone the media worker from (this repository); empty: no media worker "
            "(no recording, replay, clips or captions).", default=""),
        "MediaWorkerCommit": parameter("Commit of MediaWorkerRepository to run (its livekit/worker, pinned "
                                       "requirements included).", default="",
                                       AllowedPattern=r"^([0-9a-f]{40})?$"),
        "MediaWorkerMaxSpaces": parameter("Spaces one node's media worker records at once (about 10 per core).",
                                          type_="Number", default=20, MinValue=1),
        "CaptionEngine": parameter("The media worker's speech-to-text (AIRWAVES_STT_ENGINE): Amazon Transcribe "
                                   "streaming, the embedded Whisper tiny.en (English, the node's CPU), or none.",
                                   default="transcribe", AllowedValues=["transcribe", "embedded", "none"]),
    }


# The S3 actions the media worker's code calls (``Store`` in livekit/worker/airwaves_media/store.py).
MEDIA_WORKER_S3_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
MEDIA_WORKER_TRANSCRIBE_ACTION = "transcribe:StartStreamTranscription"
# What the CloudWatch agent calls to ship a file into an existing log group (it creates no group
# and sets no retention: the stack does both).
MEDIA_WORKER_LOG_ACTIONS = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")


def _heredoc(path: str, content: str, mode: str) -> str:
    if any(line.strip() == HEREDOC_END for line in content.splitlines()):
        raise SystemExit(f"{path} contains the heredoc end marker {HEREDOC_END}")
    body = content if content.endswith("\n") else content + "\n"
    return f"cat > {path} <<'{HEREDOC_END}'\n{body}{HEREDOC_END}\nchmod {mode} {path}\n"


def compact(name: str, text: str) -> str:
    """A node script as it travels in user data (16 KB at most): full-line comments dropped (the
    shebang kept) and, for Python, the module docstring; the files in the repository keep both."""
    if name.endswith(".py") and text.startswith('"""'):
        text = text[text.index('"""', 3) + 3:].lstrip("\n")
    lines = text.splitlines(keepends=True)
    return "".join(line for i, line in enumerate(lines)
                   if not (line.lstrip().startswith("#") and not (i == 0 and line.startswith("#!"))))


def user_data(version: str, ports: dict[str, int]) -> dict[str, Any]:
    """First-boot script: the stack's values (the only substituted part), then the config template
    and node scripts verbatim, then ``install.sh``."""
    head = sub(f"""#!/bin/bash
# LiveKit node bootstrap, generated by infra/build_template.py from infra/livekit_node/ and
# livekit/livekit.production.yaml (edit those, then regenerate).
set -euo pipefail
install -d -m 0755 /etc/livekit /opt/airwaves
cat > /etc/livekit/stack.env <<'{HEREDOC_END}'
AWS_REGION=${{AWS::Region}}
STACK_NAME=${{AWS::StackName}}
SIGNAL_RESOURCE=NodeGroup
ASG_NAME=${{AWS::StackName}}-livekit
DRAIN_HOOK_NAME={DRAIN_HOOK}
DRAIN_SECONDS=${{DrainSeconds}}
LIVEKIT_VERSION={version}
SIGNAL_PORT={ports['signal']}
APP_SECRETS_ARN=${{AppSecretsArn}}
REDIS_AUTH_SECRET_ARN=${{RedisAuthToken}}
REDIS_ADDRESS=${{Redis.PrimaryEndPoint.Address}}:${{Redis.PrimaryEndPoint.Port}}
TURN_DOMAIN=${{DomainName}}
WEBHOOK_URL=${{WebhookUrl}}
API_URL=${{ApiUrl}}
MEDIA_BUCKET=${{MediaBucketName}}
MEDIA_WORKER_LOG_GROUP=${{MediaWorkerLogGroup}}
MEDIA_WORKER_REPOSITORY=${{MediaWorkerRepository}}
MEDIA_WORKER_COMMIT=${{MediaWorkerCommit}}
MEDIA_WORKER_MAX_SPACES=${{MediaWorkerMaxSpaces}}
CAPTION_ENGINE=${{CaptionEngine}}
MEDIA_WORKER_HEALTH_PORT={MEDIA_WORKER_HEALTH_PORT}
MEDIA_WORKER_SRC=/opt/airwaves/media-worker/livekit/worker
{HEREDOC_END}
""")
    files = "".join([
        _heredoc("/etc/livekit/livekit.yaml.tmpl", PRODUCTION_CONFIG.read_text(), "0644"),
        *(_heredoc(f"/opt/airwaves/{name}", compact(name, (NODE_FILES / name).read_text()), "0755")
          for name in ("render_config.py", "drain.sh", "install.sh")),
        "exec /opt/airwaves/install.sh\n",
    ])
    return {"Fn::Base64": join([head, files])}


def _ingress(protocol: str, from_port: int, to_port: int, description: str, **source: Any) -> dict[str, Any]:
    return {"IpProtocol": protocol, "FromPort": from_port, "ToPort": to_port, "Description": description, **source}


def resources(version: str, ports: dict[str, int]) -> dict[str, Any]:
    anywhere = {"CidrIp": "0.0.0.0/0"}
    from_lb = {"SourceSecurityGroupId": ref("LoadBalancerSecurityGroup")}
    node_ingress = [
        _ingress("tcp", ports["signal"], ports["signal"], "signalling and API from the load balancer", **from_lb),
        _ingress("tcp", ports["turn_tls"], ports["turn_tls"], "TURN/TLS (TLS ended at the load balancer)", **from_lb),
        _ingress("tcp", ports["ice_tcp"], ports["ice_tcp"], "WebRTC ICE over TCP, straight to the node", **anywhere),
        _ingress("udp", ports["udp_start"], ports["udp_end"], "WebRTC media (UDP), straight to the node", **anywhere),
        _ingress("udp", ports["turn_udp"], ports["turn_udp"], "TURN/UDP, straight to the node", **anywhere),
    ]
    node_policy = [
        statement(["secretsmanager:GetSecretValue"], [ref("AppSecretsArn"), ref("RedisAuthToken")]),
        statement(["autoscaling:CompleteLifecycleAction"],
                  arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/${AWS::StackName}-livekit")),
        statement(["cloudformation:SignalResource"], ref("AWS::StackId")),
        # the media worker: exactly the S3 calls livekit/worker makes (tests/infra checks), spaces/* only
        statement(list(MEDIA_WORKER_S3_ACTIONS), arn("s3", f"${{MediaBucketName}}/{MEDIA_PREFIX}*", region=False,
                                                     account=False)),
        # its caption engine on deployed stages (AWS Transcribe streaming): the one streaming call and
        # nothing else; Transcribe has no resource-level permissions for it, hence "*"
        statement([MEDIA_WORKER_TRANSCRIBE_ACTION], "*"),
        # the CloudWatch agent ships the worker's log lines (and the EMF metrics in them) to its group
        statement(list(MEDIA_WORKER_LOG_ACTIONS), get_att("MediaWorkerLogGroup", "Arn")),
    ]
    tg_health = {"HealthCheckProtocol": "HTTP", "HealthCheckPort": str(ports["signal"]), "HealthCheckPath": "/",
                 "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2, "HealthCheckIntervalSeconds": 10}

    def target_group(port: int) -> dict[str, Any]:
        return {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Protocol": "TCP", "Port": port, "VpcId": ref("VpcId"), "TargetType": "instance", **tg_health,
            "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}]}}

    def listener(port: int, target: str) -> dict[str, Any]:
        return {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": ref("LoadBalancer"), "Port": port, "Protocol": "TLS",
            "Certificates": [{"CertificateArn": ref("CertificateArn")}],
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref(target)}]}}

    def alarm(description: str, namespace: str, metric: str, dims: dict[str, Any], stat: str, threshold: float,
              periods: int, operator: str = "GreaterThanOrEqualToThreshold") -> dict[str, Any]:
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()], "Statistic": stat, "Period": 60,
            "EvaluationPeriods": periods, "Threshold": threshold, "ComparisonOperator": operator,
            "TreatMissingData": "notBreaching", "AlarmActions": [ref("AlarmTopicArn")],
            "OKActions": [ref("AlarmTopicArn")]}}

    return {
        "LoadBalancerSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "LiveKit load balancer: TLS signalling and TURN/TLS from anywhere",
            "VpcId": ref("VpcId"),
            "SecurityGroupIngress": [_ingress("tcp", 443, 443, "wss signalling", **anywhere),
                                     _ingress("tcp", ports["turn_tls"], ports["turn_tls"], "TURN/TLS", **anywhere)]}},
        "NodeSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "LiveKit nodes: signalling via the load balancer, media straight to the node",
            "VpcId": ref("VpcId"), "SecurityGroupIngress": node_ingress}},
        "RedisSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "LiveKit routing Redis: from the LiveKit nodes only", "VpcId": ref("VpcId"),
            "SecurityGroupIngress": [_ingress("tcp", 6379, 6379, "Redis (TLS) from LiveKit nodes",
                                              SourceSecurityGroupId=ref("NodeSecurityGroup"))]}},
        "RedisSubnetGroup": {"Type": "AWS::ElastiCache::SubnetGroup", "Properties": {
            "Description": "Subnets of the LiveKit routing Redis", "SubnetIds": ref("CacheSubnetIds")}},
        "RedisAuthToken": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Description": "AUTH token of the LiveKit routing Redis (read by the nodes at start)",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}}},
        "Redis": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {
            "ReplicationGroupDescription": "LiveKit multi-node routing (rooms, nodes, signal relay)",
            "Engine": "redis", "EngineVersion": "7.1", "CacheNodeType": ref("RedisNodeType"),
            "NumCacheClusters": 2, "AutomaticFailoverEnabled": True, "MultiAZEnabled": True,
            "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled": True,
            "AuthToken": sub("{{resolve:secretsmanager:${RedisAuthToken}}}"),
            "CacheSubnetGroupName": ref("RedisSubnetGroup"),
            "SecurityGroupIds": [get_att("RedisSecurityGroup", "GroupId")]}},
        "NodeRole": {"Type": "AWS::IAM::Role", "Properties": {
            "Description": "LiveKit node: read its secrets, finish its own drain, signal CloudFormation, "
                           "media worker objects",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "livekit-node",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": node_policy}}]}},
        "MediaWorkerLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete",
                                "UpdateReplacePolicy": "Delete", "Properties": {
                                    "LogGroupName": sub("/airwaves/${AWS::StackName}/media-worker"),
                                    "RetentionInDays": ref("LogRetentionDays")}},
        "NodeInstanceProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [ref("NodeRole")]}},
        "NodeLaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "ImageId": ref("ImageId"), "InstanceType": ref("InstanceType"),
            "IamInstanceProfile": {"Arn": get_att("NodeInstanceProfile", "Arn")},
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
            "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": True,
                                   "Groups": [get_att("NodeSecurityGroup", "GroupId")]}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                     "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True}}],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": sub("${AWS::StackName}-livekit")}]}],
            "UserData": user_data(version, ports)}}},
        "NodeGroup": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "CreationPolicy": {"ResourceSignal": {"Count": ref("MinNodes"), "Timeout": "PT30M"}},
            "UpdatePolicy": {"AutoScalingRollingUpdate": {
                "MinInstancesInService": ref("MinNodes"), "MaxBatchSize": 1, "PauseTime": "PT30M",
                "WaitOnResourceSignals": True,
                "SuspendProcesses": ["HealthCheck", "ReplaceUnhealthy", "AZRebalance", "AlarmNotification",
                                     "ScheduledActions"]}},
            "Properties": {
                "AutoScalingGroupName": sub("${AWS::StackName}-livekit"),
                "LaunchTemplate": {"LaunchTemplateId": ref("NodeLaunchTemplate"),
                                   "Version": get_att("NodeLaunchTemplate", "LatestVersionNumber")},
                "MinSize": ref("MinNodes"), "MaxSize": ref("MaxNodes"),
                "VPCZoneIdentifier": ref("PublicSubnetIds"),
                "TargetGroupARNs": [ref("SignalTargetGroup"), ref("TurnTargetGroup")],
                "HealthCheckType": "ELB", "HealthCheckGracePeriod": 900,
                "MetricsCollection": [{"Granularity": "1Minute"}],
                "LifecycleHookSpecificationList": [{
                    "LifecycleHookName": DRAIN_HOOK, "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                    "HeartbeatTimeout": ref("DrainSeconds"), "DefaultResult": "CONTINUE"}],
            }},
        "CpuScaling": {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
            "AutoScalingGroupName": ref("NodeGroup"), "PolicyType": "TargetTrackingScaling",
            "EstimatedInstanceWarmup": 600,
            "TargetTrackingConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                "TargetValue": ref("CpuTargetPercent")}}},
        "LoadBalancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Type": "network", "Scheme": "internet-facing", "Subnets": ref("PublicSubnetIds"),
            "SecurityGroups": [get_att("LoadBalancerSecurityGroup", "GroupId")],
            "LoadBalancerAttributes": [{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}]}},
        "SignalTargetGroup": target_group(ports["signal"]),
        "TurnTargetGroup": target_group(ports["turn_tls"]),
        "SignalListener": listener(443, "SignalTargetGroup"),
        "TurnListener": listener(ports["turn_tls"], "TurnTargetGroup"),
        "DnsRecord": {"Type": "AWS::Route53::RecordSet", "Condition": "HasHostedZone", "Properties": {
            "HostedZoneId": ref("HostedZoneId"), "Name": ref("DomainName"), "Type": "A",
            "AliasTarget": {"DNSName": get_att("LoadBalancer", "DNSName"),
                            "HostedZoneId": get_att("LoadBalancer", "CanonicalHostedZoneID"),
                            "EvaluateTargetHealth": True}}},
        "UnhealthyNodesAlarm": alarm(
            "A LiveKit node fails its health check", "AWS/NetworkELB", "UnHealthyHostCount",
            {"TargetGroup": get_att("SignalTargetGroup", "TargetGroupFullName"),
             "LoadBalancer": get_att("LoadBalancer", "LoadBalancerFullName")}, "Maximum", 1, 3),
        "NodesSaturatedAlarm": alarm(
            "LiveKit nodes average above 85% CPU for 10 minutes (at MaxNodes, or scaling cannot keep up)",
            "AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": ref("NodeGroup")}, "Average", 85, 10),
    }


def build(root: Path = ROOT) -> dict[str, Any]:
    version = livekit_version(root)
    ports = config_ports(PRODUCTION_CONFIG.read_text())
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Airwaves LiveKit cluster: livekit-server {version} on EC2 Auto Scaling, ElastiCache Redis "
                       "routing, NLB TLS signalling and TURN/TLS",
        "Parameters": parameters(),
        "Conditions": {"HasHostedZone": {"Fn::Not": [{"Fn::Equals": [ref("HostedZoneId"), ""]}]}},
        "Resources": resources(version, ports),
        "Outputs": {
            "LoadBalancerDnsName": {"Description": "Point DomainName here", "Value": get_att("LoadBalancer", "DNSName")},
            "LiveKitUrl": {"Description": "URL clients connect to", "Value": sub("wss://${DomainName}")},
            "AutoScalingGroupName": {"Description": "The node group (scale or refresh it here)",
                                     "Value": ref("NodeGroup")},
            "RedisEndpoint": {"Description": "Routing Redis primary endpoint",
                              "Value": get_att("Redis", "PrimaryEndPoint.Address")},
            "LiveKitVersion": {"Description": "livekit-server version the nodes build", "Value": version},
            "MediaWorkerLogGroupName": {"Description": "The media worker's logs (one stream per node)",
                                        "Value": ref("MediaWorkerLogGroup")},
        },
    }
