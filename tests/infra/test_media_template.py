"""The recorded-media bucket in template.yaml: encrypted, private, expiring, reached only by the
functions that need it and only under the Space prefix (issue 13)."""
from __future__ import annotations

import json

from infra import app_policies
from tests.infra.templates import APP, functions, load, policy_statements


def test_bucket_is_encrypted_private_and_expires_a_day_after_the_replay():
    t = load(APP)
    bucket = t["Resources"]["MediaBucket"]
    props = bucket["Properties"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled" and lifecycle["Prefix"] == "spaces/"
    assert lifecycle["ExpirationInDays"] == {"Fn::FindInMap": ["ReplayRetention", {"Ref": "ReplayRetentionDays"},
                                                               "ObjectDays"]}
    days = t["Parameters"]["ReplayRetentionDays"]
    assert days["Default"] == 30
    mapping = t["Mappings"]["ReplayRetention"]
    assert {int(k) for k in mapping} == set(days["AllowedValues"])
    assert all(v["ObjectDays"] == int(k) + 1 for k, v in mapping.items())
    assert mapping["30"]["ObjectDays"] == 31
    deny = t["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_api_handler_reaches_the_bucket_and_only_under_spaces():
    t = load(APP)
    s3 = [(rid, s) for rid, s in policy_statements(t) if any(a.startswith("s3:") for a in s["Action"])
          and rid.endswith("Role")]
    assert {rid for rid, _ in s3} == {"APIHandlerRole"}
    objects = next(s for _, s in s3 if "s3:GetObject" in s["Action"])
    assert objects["Resource"] == {"Fn::Sub": "${MediaBucket.Arn}/spaces/*"}
    assert sorted(objects["Action"]) == sorted(app_policies.MEDIA_OBJECT_ACTIONS)
    listing = next(s for _, s in s3 if "s3:ListBucket" in s["Action"])
    assert listing["Resource"] == {"Fn::GetAtt": ["MediaBucket", "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["spaces/*"]}}


def test_functions_know_the_bucket_and_the_retention_and_the_secret_has_the_worker_key():
    t = load(APP)
    for logical_id, res in functions(t).items():
        env = res["Properties"]["Environment"]["Variables"]
        assert env["AIRWAVES_MEDIA_BUCKET"] == {"Ref": "MediaBucket"}, logical_id
        assert env["AIRWAVES_REPLAY_RETENTION_DAYS"] == {"Ref": "ReplayRetentionDays"}, logical_id
        assert "AIRWAVES_MEDIA_WORKER_SECRET" not in env
    secret = json.loads(t["Resources"]["AppSecrets"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    assert "media_worker_secret" in secret
    assert t["Outputs"]["MediaBucketName"]["Value"] == {"Ref": "MediaBucket"}
