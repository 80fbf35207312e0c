"""The test ``Api``'s interface (``call``, ``token``, ``make_user``) over real HTTP, for servers
running in their own process. ``StripeKit`` and the other helpers take either."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class HttpResponse:
    status_code: int
    body: bytes
    headers: dict[str, str]
    json: Any = None


@dataclass
class HttpApi:
    base_url: str
    timeout: float = 30
    _tokens: dict[tuple[str, bool], str] = field(default_factory=dict)

    def token(self, user_id: str, admin: bool = False) -> str:
        key = (user_id, admin)
        if key not in self._tokens:
            res = self.call("POST", "/v1/dev/tokens", body={"user_id": user_id, "admin": admin})
            assert res.status_code == 201, res.body
            self._tokens[key] = res.json["token"]
        return self._tokens[key]

    def call(self, method: str, path: str, *, as_user: str | None = None, body: Any = None,
             raw: bytes | None = None, headers: dict[str, str] | None = None, admin: bool = False) -> HttpResponse:
        """One request; a dead server raises ``requests.ConnectionError`` (not a response)."""
        hdrs = {"Content-Type": "application/json"}
        if as_user is not None:
            hdrs["Authorization"] = f"Bearer {self.token(as_user, admin)}"
        hdrs.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        res = requests.request(method, self.base_url + path, data=payload, headers=hdrs, timeout=self.timeout)
        out = HttpResponse(res.status_code, res.content, dict(res.headers))
        if res.content and res.headers.get("Content-Type", "").startswith("application/json"):
            out.json = res.json()
        return out

    def make_user(self, user_id: str, followers: int = 1000, **fields: Any) -> Any:
        body = {"handle": fields.pop("handle", user_id.replace("-", "_")[:30]),
                "display_name": fields.pop("display_name", user_id), "follower_count": followers, **fields}
        res = self.call("PUT", f"/v1/admin/users/{user_id}", as_user="admin", admin=True, body=body)
        assert res.status_code in (200, 201), res.body
        return res.json
