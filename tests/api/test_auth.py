"""Bearer JWT: HS256 dev tokens locally, RS256 from a JWKS elsewhere; bad tokens are 401."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.api.auth import authenticate
from chalicelib.domain.errors import Unauthenticated
from chalicelib.settings import Settings

SECRET = "test-secret-of-at-least-thirty-two-bytes"


def hs_settings(**overrides) -> Settings:
    return Settings(stage="local", auth_mode="hs256", jwt_dev_secret=SECRET, jwt_issuer="iss-a",
                    jwt_audience="aud-a", **overrides)


def claims(**overrides):
    now = int(time.time())
    return {"sub": "alice", "iss": "iss-a", "aud": "aud-a", "iat": now, "exp": now + 60, **overrides}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_hs256_token_names_the_user_and_scopes():
    token = jwt.encode(claims(scope="admin other"), SECRET, algorithm="HS256")
    principal = authenticate(f"Bearer {token}", hs_settings())
    assert principal.user_id == "alice" and principal.is_admin


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic abc", "Bearer not-a-jwt",
    "Bearer " + jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode(claims(aud="another-app"), SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode(claims(), "wrong-secret-of-at-least-thirty-two-bytes", algorithm="HS256"),
    "Bearer " + jwt.encode({k: v for k, v in claims().items() if k != "sub"}, SECRET, algorithm="HS256"),
    "Bearer " + jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256"),
    "Bearer " + b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims()) + ".",
], ids=["missing", "empty", "no-token", "basic", "garbage", "expired", "wrong-issuer", "wrong-audience",
        "bad-signature", "no-sub", "no-exp", "alg-none"])
def test_bad_tokens_are_unauthenticated(header):
    with pytest.raises(Unauthenticated):
        authenticate(header, hs_settings())


@pytest.fixture(scope="module")
def jwks_server():
    """A loopback JWKS endpoint, as a Cognito user pool would serve it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_rs256_tokens_verify_against_the_issuers_jwks(jwks_server):
    key, url = jwks_server
    settings = Settings(stage="prod", auth_mode="jwks", jwt_jwks_url=url, jwt_issuer="iss-a", jwt_audience="aud-a")
    good = jwt.encode(claims(), key, algorithm="RS256", headers={"kid": "k1"})
    assert authenticate(f"Bearer {good}", settings).user_id == "alice"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims(iss="evil"), key, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims(aud="evil"), key, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims(exp=int(time.time()) - 5), key, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "k1"}),
    ):
        with pytest.raises(Unauthenticated):
            authenticate(f"Bearer {bad}", settings)


def test_every_protected_route_answers_401_in_the_contract_shape(api):
    from chalicelib.api.routing import ENDPOINTS

    for ep in ENDPOINTS:
        if not ep.auth:
            continue
        path = ep.path.replace("{", "").replace("}", "")
        res = api.call(ep.method, path, headers={"Authorization": "Bearer nope"}, body={})
        assert res.status_code == 401, (ep.method, ep.path, res.body)
        assert res.json["error"]["code"] == "unauthenticated"


def test_admin_routes_need_the_admin_scope(api):
    res = api.call("PUT", "/v1/admin/users/bob", as_user="mallory", body={"handle": "bob", "display_name": "Bob"})
    assert res.status_code == 403 and res.json["error"]["code"] == "forbidden"


def test_dev_tokens_exist_only_in_the_local_stage(api, monkeypatch):
    monkeypatch.setenv("AIRWAVES_STAGE", "prod")
    from chalicelib.container import reset_container

    reset_container()
    res = api.call("POST", "/v1/dev/tokens", body={"user_id": "alice", "admin": True})
    assert res.status_code == 404 and res.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("scope", [7, {"admin": True}, ["admin", 3], 1.5, True])
def test_a_scope_claim_of_the_wrong_shape_is_401_never_a_grant(scope):
    token = jwt.encode(claims(scope=scope), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        authenticate(f"Bearer {token}", hs_settings())


def test_a_list_scope_is_read_as_scopes():
    token = jwt.encode(claims(scope=["admin", "x"]), SECRET, algorithm="HS256")
    assert authenticate(f"Bearer {token}", hs_settings()).scopes == frozenset({"admin", "x"})


@pytest.mark.parametrize("scope", [7, {"admin": "yes"}])
def test_through_the_api_an_odd_scope_is_a_clean_401(api, scope):
    from chalicelib.settings import get_settings

    s = get_settings()
    token = jwt.encode({**claims(scope=scope), "iss": s.jwt_issuer, "aud": s.jwt_audience},
                       s.jwt_dev_secret, algorithm="HS256")
    res = api.call("PUT", "/v1/admin/users/bob", headers={"Authorization": f"Bearer {token}"},
                   body={"handle": "bob", "display_name": "Bob"})
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated", res.body



def test_dev_routes_are_in_the_openapi_document_only_in_the_local_stage(api, monkeypatch):
    from chalicelib.container import reset_container

    local = api.call("GET", "/v1/openapi.json").json["paths"]
    assert "/v1/dev/tokens" in local
    monkeypatch.setenv("AIRWAVES_STAGE", "prod")
    reset_container()
    prod = api.call("GET", "/v1/openapi.json").json["paths"]
    assert not [p for p in prod if p.startswith("/v1/dev/")]
    assert "/v1/spaces" in prod
