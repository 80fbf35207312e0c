"""Live HLS segments through CloudFront (``LiveSegmentLinks``), signed with a custom policy.

One policy covers a Space's whole live folder (``<cdn>/spaces/<id>/live/*``) until the end of the
next validity window (``domain/hls.shared_link_expiry``). So every listener of a Space gets the
same segment URLs in a window, and the distribution's cache (query strings left out of the key)
serves each segment from S3 once per edge. CloudFront checks the signature itself, at the edge,
before it answers from its cache. The container signs once per Space and window, not per request.

botocore's ``CloudFrontSigner`` builds the policy and its URL encoding; ``cryptography`` (already
in the package through PyJWT[crypto]) makes the RSA-SHA1 signature CloudFront requires. Both are
imported only when a CDN is configured.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

from chalicelib.domain.hls import shared_link_expiry

_SIGNED_KEPT = 512  # (folder, window) signatures kept per container


@dataclass
class CloudFrontSegmentLinks:
    base_url: str  # https://<distribution domain>
    key_id: str  # the CloudFront public key's id (the key group trusts it)
    private_key: Callable[[], str]  # its PEM private key (read when used: secrets rotate)
    ttl: timedelta
    _signed: dict[tuple[str, int, str], str] = field(default_factory=dict, repr=False)

    def link(self, key: str, now: datetime) -> str:
        folder = key.rsplit("/", 1)[0] + "/"
        expires = shared_link_expiry(now, self.ttl)
        return f"{self.base_url.rstrip('/')}/{quote(key)}?{self._query(folder, expires)}"

    def _query(self, folder: str, expires: datetime) -> str:
        pem = self.private_key()
        cache_key = (folder, int(expires.timestamp()), pem)
        query = self._signed.get(cache_key)
        if query is None:
            if len(self._signed) >= _SIGNED_KEPT:
                self._signed.clear()
            query = self._sign(f"{self.base_url.rstrip('/')}/{quote(folder)}", expires, pem)
            self._signed[cache_key] = query
        return query

    def _sign(self, folder_url: str, expires: datetime, pem: str) -> str:
        from botocore.signers import CloudFrontSigner

        signer = CloudFrontSigner(self.key_id, _rsa_sha1_signer(pem))
        policy = signer.build_policy(folder_url + "*", date_less_than=expires)
        url: str = signer.generate_presigned_url(folder_url, policy=policy)
        return url.split("?", 1)[1]


@lru_cache(maxsize=4)
def _rsa_sha1_signer(pem: str) -> Callable[[bytes], bytes]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the HLS CDN key must be an RSA private key (CloudFront signs with RSA-SHA1)")
    return lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # SHA-1: the scheme CloudFront verifies
