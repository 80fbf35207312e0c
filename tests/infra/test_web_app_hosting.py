"""The optional hosted web app (HostWebApp=true): a private bucket only its CloudFront distribution
reads, the API's CORS origin and web link follow the distribution when hosted and WebAppOrigin
otherwise, cfn-lint is clean with the part turned on, and infra/publish_web.py uploads the build
with a config.json naming the API (moto)."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import publish_web
from tests.infra.templates import APP, ROOT, cfn_lint_with, functions, load

HOSTED = ["WebAppBucket", "WebAppBucketPolicy", "WebAppOriginAccessControl", "WebAppDistribution"]


def resolve(node, hosted: bool):
    """The template with every Fn::If on HostsWebApp taken one way."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] == "HostsWebApp":
            return resolve(node["Fn::If"][1 if hosted else 2], hosted)
        return {k: resolve(v, hosted) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, hosted) for v in node]
    return node


def test_hosting_is_optional_and_off_by_default():
    template = load(APP)
    param = template["Parameters"]["HostWebApp"]
    assert param["Default"] == "false" and param["AllowedValues"] == ["true", "false"]
    assert len(param["Description"]) > 40 and len(template["Parameters"]["WebAppOrigin"]["Description"]) > 40
    assert template["Conditions"]["HostsWebApp"] == {"Fn::Equals": [{"Ref": "HostWebApp"}, "true"]}
    for rid in HOSTED:
        assert template["Resources"][rid]["Condition"] == "HostsWebApp", rid
    for name in ("WebAppUrl", "WebAppBucketName", "WebAppDistributionId"):
        assert template["Outputs"][name]["Condition"] == "HostsWebApp"
    assert template["Outputs"]["WebAppUrl"]["Value"] == {"Fn::Sub": "https://${WebAppDistribution.DomainName}"}


def test_bucket_is_private_and_only_the_distribution_reads_it():
    resources = load(APP)["Resources"]
    props = resources["WebAppBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in
               ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props
    policy = resources["WebAppBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebAppBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "OnlyThisDistributionReads", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": ["s3:GetObject"], "Resource": {"Fn::Sub": "${WebAppBucket.Arn}/*"},
        "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub":
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebAppDistribution}"}}}}]
    [tls] = [s for s in statements if s["Effect"] == "Deny"]
    assert tls["Principal"] == "*" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "s3:GetObject" in tls["Action"]


def test_distribution_reads_through_origin_access_control_over_https():
    resources = load(APP)["Resources"]
    oac = resources["WebAppOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3" and oac["SigningBehavior"] == "always"
    config = resources["WebAppDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html" and config["Enabled"] is True
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebAppBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebAppOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}   # OAC, not the legacy identity
    behavior = config["DefaultCacheBehavior"]
    assert behavior["TargetOriginId"] == origin["Id"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] and behavior["ResponseHeadersPolicyId"]


@pytest.mark.parametrize("hosted", [True, False], ids=["hosted", "not-hosted"])
def test_cors_origin_and_web_link_follow_the_hosting(hosted):
    template = load(APP)
    fns = functions(template)
    assert fns
    for rid, res in fns.items():
        env = resolve(res["Properties"]["Environment"]["Variables"], hosted)
        if hosted:
            assert env["AIRWAVES_CORS_ALLOWED_ORIGINS"] == {
                "Fn::Sub": '["https://${WebAppDistribution.DomainName}"]'}, rid
            assert env["AIRWAVES_WEB_APP_URL"] == {"Fn::Sub": "https://${WebAppDistribution.DomainName}"}, rid
        else:
            assert env["AIRWAVES_CORS_ALLOWED_ORIGINS"] == {"Fn::Sub": '["${WebAppOrigin}"]'}, rid
            assert env["AIRWAVES_WEB_APP_URL"] == {"Ref": "WebAppOrigin"}, rid
        assert "*" not in json.dumps(env["AIRWAVES_CORS_ALLOWED_ORIGINS"])


def test_cfn_lint_is_clean_with_the_web_app_hosted(tmp_path):
    """The committed template lints with the default (not hosted); this lints it turned on."""
    res = cfn_lint_with(tmp_path, HostWebApp="true")
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "chunks").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Airwaves</title>")
    (dist / "app.js").write_text("console.log(1)")
    (dist / "chunks" / "hls-abc.js").write_text("x")
    return dist


@mock_aws
def test_publish_uploads_the_build_and_a_config_naming_the_api(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="web")
    s3.put_object(Bucket="web", Key="chunks/old-123.js", Body=b"stale")
    api = "https://abc.execute-api.us-east-1.amazonaws.com/api/"
    keys = publish_web.publish(s3, "web", _dist(tmp_path), api)
    assert keys == ["app.js", "chunks/hls-abc.js", "config.json", "index.html"]
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="web")["Contents"])
    assert listed == keys
    config = s3.get_object(Bucket="web", Key="config.json")
    assert json.loads(config["Body"].read()) == {"api_url": api}
    assert config["CacheControl"] == "no-cache" and config["ContentType"] == "application/json"
    page = s3.get_object(Bucket="web", Key="index.html")
    assert page["ContentType"] == "text/html" and page["CacheControl"] == "no-cache"
    assert s3.get_object(Bucket="web", Key="app.js")["ContentType"] == "text/javascript"


def test_publish_refuses_an_unbuilt_app_and_a_stack_without_hosting(tmp_path):
    with pytest.raises(SystemExit, match="make web"):
        publish_web.files(tmp_path, "https://x")

    class Stack:
        def describe_stacks(self, StackName):  # noqa: N803
            return {"Stacks": [{"Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://x/api/"}]}]}

    with pytest.raises(SystemExit, match="HostWebApp=true"):
        publish_web.stack_outputs(Stack(), "airwaves")


def test_web_app_reads_its_api_from_config_json():
    """publish_web writes the file the page fetches, with the key the page reads."""
    main = (ROOT / "web" / "src" / "main.ts").read_text()
    assert 'fetch("config.json")' in main and "config.api_url" in main


@mock_aws
def test_publish_main_reads_the_stack_uploads_and_invalidates(tmp_path, capsys):
    session = boto3.session.Session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket="web")
    cloudfront = session.client("cloudfront")
    dist_id = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": "t", "Comment": "", "Enabled": True, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "web.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0}})["Distribution"]["Id"]
    outputs = {"ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/api/", "WebAppBucketName": "web",
               "WebAppDistributionId": dist_id, "WebAppUrl": "https://d1.cloudfront.net"}
    stack = {"AWSTemplateFormatVersion": "2010-09-09",
             "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
             "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    session.client("cloudformation").create_stack(StackName="airwaves", TemplateBody=json.dumps(stack))
    assert publish_web.main(["--stack", "airwaves", "--dist", str(_dist(tmp_path))], session=session) == 0
    config = session.client("s3").get_object(Bucket="web", Key="config.json")["Body"].read()
    assert json.loads(config) == {"api_url": outputs["ApiUrl"]}
    [inv] = cloudfront.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=dist_id, Id=inv["Id"])["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"]["Items"] == ["/*"]
    assert "https://d1.cloudfront.net" in capsys.readouterr().out
