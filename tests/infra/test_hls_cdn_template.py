"""The optional CDN in front of live HLS segments (``HlsCdnPublicKey`` set): off by default, it
reads only the live folders of the media bucket through Origin Access Control, serves only URLs
signed by its key group, caches without query strings, the functions are told its URL and key id,
and cfn-lint is clean with it on."""
from __future__ import annotations

from chalicelib.settings import Settings
from infra.app_template import CACHING_OPTIMIZED_POLICY
from tests.infra.templates import APP, cfn_lint_with, functions, load

CDN_PARTS = ["HlsCdnKey", "HlsCdnKeyGroup", "HlsCdnOriginAccessControl", "HlsCdnDistribution"]
PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtest+/=\n-----END PUBLIC KEY-----\n"


def test_the_cdn_is_optional_and_off_by_default():
    template = load(APP)
    assert template["Parameters"]["HlsCdnPublicKey"]["Default"] == ""
    assert template["Conditions"]["UsesHlsCdn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "HlsCdnPublicKey"}, ""]}]}
    for rid in CDN_PARTS:
        assert template["Resources"][rid]["Condition"] == "UsesHlsCdn", rid
    assert template["Outputs"]["HlsCdnUrl"]["Condition"] == "UsesHlsCdn"


def test_it_serves_only_signed_urls_and_caches_one_object_per_segment():
    resources = load(APP)["Resources"]
    config = resources["HlsCdnDistribution"]["Properties"]["DistributionConfig"]
    assert "CacheBehaviors" not in config  # one behaviour: every path needs a signature
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TrustedKeyGroups"] == [{"Ref": "HlsCdnKeyGroup"}]
    assert behaviour["ViewerProtocolPolicy"] == "https-only" and behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == CACHING_OPTIMIZED_POLICY  # query strings are not in its cache key
    assert resources["HlsCdnKeyGroup"]["Properties"]["KeyGroupConfig"]["Items"] == [{"Ref": "HlsCdnKey"}]
    assert resources["HlsCdnKey"]["Properties"]["PublicKeyConfig"]["EncodedKey"] == {"Ref": "HlsCdnPublicKey"}
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["MediaBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["HlsCdnOriginAccessControl", "Id"]}


def test_the_bucket_lets_the_distribution_read_live_segments_only():
    statements = load(APP)["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [conditional] = [s["Fn::If"] for s in statements if "Fn::If" in s]
    assert conditional[0] == "UsesHlsCdn" and conditional[2] == {"Ref": "AWS::NoValue"}
    allow = conditional[1]
    assert allow["Effect"] == "Allow" and allow["Action"] == ["s3:GetObject"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Resource"] == {"Fn::Sub": "${MediaBucket.Arn}/spaces/*/live/*"}
    assert "${HlsCdnDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert not [s for s in statements if "Fn::If" not in s and s["Effect"] == "Allow"]


def test_the_functions_learn_the_cdn_url_and_key_id_settings_have():
    settings = Settings.model_fields
    for fn in functions(load(APP)).values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["AIRWAVES_HLS_CDN_URL"] == {"Fn::If": ["UsesHlsCdn",
                                                          {"Fn::Sub": "https://${HlsCdnDistribution.DomainName}"}, ""]}
        assert env["AIRWAVES_HLS_CDN_KEY_ID"] == {"Fn::If": ["UsesHlsCdn", {"Ref": "HlsCdnKey"}, ""]}
    assert {"hls_cdn_url", "hls_cdn_key_id"} <= set(settings)


def test_cfn_lint_is_clean_with_the_cdn_on(tmp_path):
    res = cfn_lint_with(tmp_path, HlsCdnPublicKey=PUBLIC_KEY)
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr
