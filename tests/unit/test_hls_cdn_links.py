"""Live segments through the CDN (``adapters/cloudfront.py``): every listener of a Space gets the
same signed URLs in a window (what lets the CDN cache a segment once), the signature verifies with
the public key the way CloudFront checks it, and the policy covers only that Space's live folder
until a time at least the TTL away."""
from __future__ import annotations

import base64
import fnmatch
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.adapters.cloudfront import CloudFrontSegmentLinks
from chalicelib.domain.hls import shared_link_expiry

CDN = "https://d111111abcdef8.cloudfront.net"
TTL = timedelta(minutes=2)
T0 = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def links(key) -> CloudFrontSegmentLinks:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return CloudFrontSegmentLinks(CDN, "K2JCJMDEHXQW5F", lambda: pem, TTL)


def _cloudfront_b64(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def verify_like_cloudfront(url: str, public_key: rsa.RSAPublicKey, now: datetime) -> bool:
    """What the edge does with a custom-policy URL: the signature over the policy, the URL inside
    the policy's resource pattern, and the time before its DateLessThan."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    policy = _cloudfront_b64(query["Policy"])
    try:
        public_key.verify(_cloudfront_b64(query["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return False
    statement = json.loads(policy)["Statement"][0]
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return (query["Key-Pair-Id"] == "K2JCJMDEHXQW5F" and fnmatch.fnmatchcase(resource, statement["Resource"])
            and now.timestamp() < statement["Condition"]["DateLessThan"]["AWS:EpochTime"])


def test_every_link_of_a_space_in_one_window_is_the_same_and_verifies(links, key):
    a = links.link("spaces/sp1/live/000001.ts", T0)
    again = links.link("spaces/sp1/live/000001.ts", T0 + timedelta(seconds=100))
    assert a == again  # another listener, later in the same window: one cached object at the edge
    assert a.startswith(f"{CDN}/spaces/sp1/live/000001.ts?")
    assert verify_like_cloudfront(a, key.public_key(), T0)
    # one signature serves the whole folder
    b = links.link("spaces/sp1/live/000002.ts", T0)
    assert urlsplit(a).query == urlsplit(b).query and verify_like_cloudfront(b, key.public_key(), T0)


def test_a_link_is_valid_at_least_the_ttl_and_the_next_window_signs_anew(links, key):
    for offset in (0, 1, 59, 119):
        now = T0 + timedelta(seconds=offset)
        expires = shared_link_expiry(now, TTL)
        assert TTL <= expires - now <= 2 * TTL, offset
        url = links.link("spaces/sp1/live/000001.ts", now)
        assert verify_like_cloudfront(url, key.public_key(), now + TTL - timedelta(seconds=1))
        assert not verify_like_cloudfront(url, key.public_key(), expires)
    assert links.link("spaces/sp1/live/000001.ts", T0) != links.link("spaces/sp1/live/000001.ts", T0 + TTL)


def test_a_link_opens_nothing_outside_its_spaces_live_folder(links, key):
    url = links.link("spaces/sp1/live/000001.ts", T0)
    query = urlsplit(url).query
    for other in ("spaces/sp2/live/000001.ts", "spaces/sp1/recording.ogg", "spaces/sp1/hls/000001.ts"):
        assert not verify_like_cloudfront(f"{CDN}/{other}?{query}", key.public_key(), T0), other
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not verify_like_cloudfront(url, forged.public_key(), T0)


def test_a_key_that_is_not_rsa_is_refused(links):
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="RSA"):
        CloudFrontSegmentLinks(CDN, "K1", lambda: pem, TTL).link("spaces/sp1/live/000001.ts", T0)
