"""The live playlist with a CDN in front of its segments (``hls_cdn_url``): two HLS listeners get
the same segment URLs, on the CDN, signed with the configured key; the playlist itself still comes
from the API (it counts each listener and checks their link)."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.test_overflow import cap, join, live_path, uris, write_live  # noqa: F401 (cap: the fixture of a one-seat cap)
from tests.unit.test_hls_cdn_links import verify_like_cloudfront

CDN = "https://d111111abcdef8.cloudfront.net"


@pytest.fixture
def cdn_key(monkeypatch) -> rsa.RSAPrivateKey:
    from chalicelib.container import reset_container

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    monkeypatch.setenv("AIRWAVES_HLS_CDN_URL", CDN)
    monkeypatch.setenv("AIRWAVES_HLS_CDN_KEY_ID", "K2JCJMDEHXQW5F")
    monkeypatch.setenv("AIRWAVES_HLS_CDN_PRIVATE_KEY", pem)
    reset_container()
    return key


@pytest.mark.usefixtures("cap")
def test_hls_listeners_share_the_cdns_signed_segment_urls(api, media, worker, space_id, cdn_key):
    join(api, space_id, "alice")
    links = [live_path(join(api, space_id, user)["hls_url"]) for user in ("bob", "carol")]
    write_live(space_id, 3)
    bob, carol = (api.call("GET", link) for link in links)
    assert bob.status_code == carol.status_code == 200
    assert uris(bob.body.decode()) == uris(carol.body.decode())  # one cached object per segment at the edge
    for seq, url in enumerate(uris(bob.body.decode())):
        assert url.startswith(f"{CDN}/spaces/{space_id}/live/{seq:06d}.ts?"), url
        assert "X-Amz-" not in url and set(parse_qs(urlsplit(url).query)) == {"Policy", "Signature", "Key-Pair-Id"}
        assert verify_like_cloudfront(url, cdn_key.public_key(), datetime.now(UTC))
    space = api.call("GET", f"/v1/spaces/{space_id}", as_user="x").json
    assert space["hls_listener_count"] == 2  # each listener still counted by their playlist fetch
