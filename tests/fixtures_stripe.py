"""Stripe fixtures: the official ``stripe-mock`` on free loopback ports, and signed webhooks.

``stripe_mock`` builds the server from its Go module at the pinned version (the same script
``make up`` uses) and starts it once per session on 127.0.0.1 with system-chosen ports (read back
from its log, so concurrent runs never collide). Under ``CI=true`` a failed build or a server that
does not come up FAILS the run; elsewhere those tests are skipped.

``stripe`` points the app's ``StripeClient`` at it (a fresh container per test), so every Stripe
call in a test goes through the real SDK over HTTP. ``StripeKit`` signs webhook payloads with the
local stage's dev-only webhook secret exactly the way Stripe does (``t=<ts>,v1=<HMAC-SHA256>``),
so the app's real verification code checks them.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.processes import StartFailed, start_stripe_mock
from tests.real_servers import built_binary, unavailable

ROOT = Path(__file__).resolve().parents[1]
_LISTEN = re.compile(r"Listening for HTTP at address: (\S+)")


def _unavailable(reason: str):
    unavailable("stripe-mock", reason)


@dataclass
class StripeMock:
    url: str
    log_path: Path


@pytest.fixture(scope="session")
def stripe_mock_binary() -> str:
    from infra.local.stripe_mock import MODULE, VERSION

    return built_binary("stripe-mock", ["bash", str(ROOT / "infra" / "local" / "build_go_server.sh"),
                                        "stripe-mock", MODULE, VERSION])


@pytest.fixture(scope="session")
def stripe_mock(stripe_mock_binary, tmp_path_factory):
    try:
        started = start_stripe_mock(stripe_mock_binary, tmp_path_factory.mktemp("stripe-mock"))
    except StartFailed as exc:
        _unavailable(str(exc))
    yield StripeMock(url=started.url, log_path=started.server.log_path)
    started.server.stop()


_event_ids = itertools.count(1)


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` exactly as Stripe computes it: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass
class StripeKit:
    """Signed webhooks and the few set-up steps every money test needs, all through the API."""

    api: object
    url: str
    wire: StripeWire | None = None
    secret: str = field(default_factory=lambda: os.environ["AIRWAVES_STRIPE_WEBHOOK_SECRET"])
    connect_secret: str = field(default_factory=lambda: os.environ["AIRWAVES_STRIPE_CONNECT_WEBHOOK_SECRET"])

    # -- webhooks ----------------------------------------------------------------------------
    @staticmethod
    def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
        return stripe_signature(payload, secret, timestamp)

    @staticmethod
    def event(kind: str, obj: dict, *, event_id: str | None = None, created: int | None = None,
              account: str | None = None) -> bytes:
        body = {"id": event_id or f"evt_test_{next(_event_ids)}_{time.time_ns()}", "object": "event",
                "api_version": "2024-06-20", "created": created or int(time.time()), "livemode": False,
                "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": kind,
                "data": {"object": obj}}
        if account:
            body["account"] = account
        return json.dumps(body).encode()

    def post(self, payload: bytes, signature: str | None):
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return self.api.call("POST", "/v1/webhooks/stripe", raw=payload, headers=headers)  # type: ignore[attr-defined]

    def send(self, kind: str, obj: dict, *, connect: bool = False, **kw):
        payload = self.event(kind, obj, **kw)
        return self.post(payload, self.sign(payload, self.connect_secret if connect else self.secret))

    @staticmethod
    def payment_intent(kind: str, ticket: dict, fields: dict | None = None) -> dict:
        """The PaymentIntent of a ``kind`` event for a ticket bought through the API (``ticket`` is
        its 201 body), as Stripe sends it (``fields`` overrides parts of it)."""
        succeeded = kind.endswith("succeeded")
        return {"id": ticket["payment_intent_id"], "object": "payment_intent", "amount": ticket["amount_cents"],
                "amount_received": ticket["amount_cents"] if succeeded else 0,
                "currency": ticket["currency"], "status": "succeeded" if succeeded else "requires_payment_method",
                "metadata": {"ticket_id": ticket["ticket_id"], "space_id": ticket["space_id"]}, **(fields or {})}

    def payment_event(self, kind: str, ticket: dict, *, fields: dict | None = None, **kw):
        """Deliver that PaymentIntent's ``kind`` event, signed."""
        return self.send(kind, self.payment_intent(kind, ticket, fields), **kw)

    def pay(self, ticket: dict, **kw):
        res = self.payment_event("payment_intent.succeeded", ticket, **kw)
        assert res.status_code == 200, res.body
        return res

    def refund_event(self, ticket: dict, *, full: bool = True, fields: dict | None = None, **kw):
        obj = {"id": "ch_test", "object": "charge", "amount": ticket["amount_cents"],
               "amount_refunded": ticket["amount_cents"] if full else 1, "currency": ticket["currency"],
               "payment_intent": ticket["payment_intent_id"], "refunded": full,
               "metadata": {"ticket_id": ticket["ticket_id"], "space_id": ticket["space_id"]},
               "refunds": {"object": "list", "data": [{"id": "re_test", "object": "refund"}]}, **(fields or {})}
        return self.send("charge.refunded", obj, **kw)

    # -- set-up through the API --------------------------------------------------------------
    def enable_charges(self, user_id: str, *, enabled: bool = True, created: int | None = None):
        """Onboard ``user_id`` and deliver Stripe's ``account.updated`` (Connect endpoint)."""
        res = self.api.call("POST", "/v1/me/payouts/onboarding", as_user=user_id)  # type: ignore[attr-defined]
        assert res.status_code == 201, res.body
        account_id = res.json["account_id"]
        obj = {"id": account_id, "object": "account", "charges_enabled": enabled, "payouts_enabled": enabled,
               "details_submitted": enabled, "metadata": {"airwaves_user_id": user_id}}
        hook = self.send("account.updated", obj, connect=True, account=account_id, created=created)
        assert hook.status_code == 200, hook.body
        return account_id

    def make_host(self, user_id: str, *, charges: bool = True, recent_spaces: int = 3) -> None:
        """A creator who may host ticketed Spaces: followers, adult, recent Spaces, charges on."""
        self.api.make_user(user_id, followers=5000, birthdate="1990-01-01")  # type: ignore[attr-defined]
        for i in range(recent_spaces):
            start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            space = self.api.call("POST", "/v1/spaces", as_user=user_id,  # type: ignore[attr-defined]
                                  body={"title": f"warm-up {i}", "scheduled_start": start})
            assert space.status_code == 201, space.body
            for step in ("start", "end"):
                res = self.api.call("POST", f"/v1/spaces/{space.json['id']}/{step}", as_user=user_id)  # type: ignore[attr-defined]
                assert res.status_code == 200, res.body
        if charges:
            self.enable_charges(user_id)

    def ticketed_space(self, host_id: str, *, price_cents: int = 1000, quantity: int = 10,
                       currency: str = "usd") -> dict:
        start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        res = self.api.call("POST", "/v1/spaces", as_user=host_id, body={  # type: ignore[attr-defined]
            "title": "Ticketed talk", "scheduled_start": start,
            "ticket": {"price_cents": price_cents, "currency": currency, "quantity": quantity}})
        assert res.status_code == 201, res.body
        return res.json

    def buy(self, buyer_id: str, space_id: str, *, make_user: bool = True, expect: int = 201) -> dict:
        if make_user:
            self.api.make_user(buyer_id, followers=0)  # type: ignore[attr-defined]
        res = self.api.call("POST", f"/v1/spaces/{space_id}/tickets", as_user=buyer_id)  # type: ignore[attr-defined]
        assert res.status_code == expect, res.body
        return res.json


@dataclass
class StripeRequest:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None


@dataclass
class StripeWire:
    """Every request the SDK sends in a test, as stripe-mock receives it; ``fail_when`` makes
    matching requests fail the way a network outage does (before reaching the server), and
    ``answer_when`` gives Stripe's answer (status, JSON body) to one stripe-mock cannot give (an
    error such as ``charge_already_refunded``; an object holding what Stripe stored), through the
    SDK's own response handling."""

    requests: list[StripeRequest] = field(default_factory=list)
    fail_when: object = None  # Callable[[StripeRequest], bool] | None
    answer_when: object = None  # Callable[[StripeRequest], tuple[int, dict] | None] | None

    def to(self, method: str, path: str) -> list[StripeRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]


@pytest.fixture
def stripe_wire(monkeypatch) -> StripeWire:
    from urllib.parse import parse_qsl, urlsplit

    import stripe as stripe_sdk

    wire = StripeWire()
    original = stripe_sdk.RequestsClient.request

    def recording(self, method, url, headers, post_data=None):
        query = urlsplit(url).query
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = dict(parse_qsl(body or query, keep_blank_values=True))
        key = {k.lower(): v for k, v in (headers or {}).items()}.get("idempotency-key")
        req = StripeRequest(method.upper(), urlsplit(url).path, params, key)
        wire.requests.append(req)
        if wire.fail_when is not None and wire.fail_when(req):  # type: ignore[operator]
            raise stripe_sdk.APIConnectionError("injected network failure (test)")
        answer = wire.answer_when(req) if wire.answer_when is not None else None  # type: ignore[operator]
        if answer is not None:
            status, body = answer
            return json.dumps(body).encode(), status, {"Request-Id": f"req_test_{len(wire.requests)}"}
        return original(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe_sdk.RequestsClient, "request", recording)
    return wire


@pytest.fixture
def stripe(stripe_mock, api, stripe_wire, monkeypatch) -> StripeKit:
    """The app's Stripe calls go to the session's stripe-mock (fresh container per test)."""
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_STRIPE_API_BASE", stripe_mock.url)
    monkeypatch.setenv("AIRWAVES_STRIPE_MAX_NETWORK_RETRIES", "0")
    reset_container()
    kit = StripeKit(api=api, url=stripe_mock.url)
    kit.wire = stripe_wire
    return kit
