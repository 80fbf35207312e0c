"""Bearer JWT authentication.

Local stage: HS256 with a dev secret (so ``POST /v1/dev/tokens`` can mint tokens). Deployed
stages: RS256 keys from the issuer's JWKS (e.g. a Cognito user pool), cached per container.
Issuer, audience, expiry and ``sub`` are always required; the algorithm list is fixed, so
``alg=none`` and algorithm-swap tokens are refused.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib.domain.errors import Forbidden, Unauthenticated, UpstreamUnavailable
from chalicelib.settings import Settings

if TYPE_CHECKING:  # PyJWT loads on the first request that carries a token
    import jwt
    from jwt.types import Options


@dataclass(frozen=True)
class Principal:
    user_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this route needs the admin scope")


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    import jwt

    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>")
    return token.strip()


def authenticate_media_worker(authorization: str | None) -> None:
    """The media worker's routes (``/internal/media/...``): the bearer must be the stage's
    ``media_worker_secret``. No secret configured: nothing is accepted."""
    import hmac

    from chalicelib.secrets import get_secret

    expected = get_secret("media_worker_secret")
    token = _bearer(authorization)
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthenticated("this route is for the media worker")


def authenticate(authorization: str | None, settings: Settings) -> Principal:
    import jwt

    token = _bearer(authorization)
    options: Options = {"require": ["exp", "sub", "iss", "aud"]}
    try:
        if settings.auth_mode == "hs256":
            if not settings.jwt_dev_secret:
                raise Unauthenticated("this stage has no dev secret configured")
            claims = jwt.decode(token, settings.jwt_dev_secret, algorithms=["HS256"],
                                issuer=settings.jwt_issuer, audience=settings.jwt_audience, options=options)
        else:
            try:
                key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError as exc:
                raise UpstreamUnavailable("the identity provider's keys cannot be fetched") from exc
            claims = jwt.decode(token, key, algorithms=["RS256"], issuer=settings.jwt_issuer,
                                audience=settings.jwt_audience, options=options)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("the token has expired") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthenticated("the token was issued by someone else") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthenticated("the token is meant for another audience") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("the token is not valid") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("the token names no user")
    return Principal(user_id=sub, scopes=_scopes(claims.get("scope")))


def _scopes(scope: object) -> frozenset[str]:
    """``scope`` as OAuth writes it (one space-separated string), or a list of strings. Any
    other shape (a number, an object...) is a malformed token, never a grant."""
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list) and all(isinstance(s, str) for s in scope):
        return frozenset(scope)
    raise Unauthenticated("the token's scope claim is not a string or a list of strings")


def mint_dev_token(user_id: str, *, admin: bool, settings: Settings) -> tuple[str, int]:
    """An HS256 token for the local stage. Returns (token, expiry as epoch seconds)."""
    import jwt

    now = int(time.time())
    exp = now + settings.dev_token_ttl_seconds
    claims = {"sub": user_id, "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "iat": now, "exp": exp, "scope": "admin" if admin else ""}
    return jwt.encode(claims, settings.jwt_dev_secret, algorithm="HS256"), exp
