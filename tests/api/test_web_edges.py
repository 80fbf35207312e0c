"""What a browser app on another origin needs from the API: CORS for the configured origins only,
a root that says where to go, and docs that render without any CDN."""
from __future__ import annotations

import re

import pytest

APP = "http://127.0.0.1:8080"


@pytest.fixture
def origins(monkeypatch):
    from chalicelib.settings import get_settings

    monkeypatch.setenv("AIRWAVES_CORS_ALLOWED_ORIGINS", f'["{APP}"]')
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_an_allowed_origin_gets_cors_headers_on_answers_and_errors(api, origins):
    ok = api.call("GET", "/v1/health", headers={"Origin": APP})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == APP and "Origin" in ok.headers["Vary"]
    # an error answer carries them too, or the browser would hide the sentence from the app
    err = api.call("GET", "/v1/me/following", headers={"Origin": APP})
    assert err.status_code == 401 and err.headers["Access-Control-Allow-Origin"] == APP
    assert err.json["error"]["message"]


def test_another_origin_gets_no_cors_headers(api, origins):
    res = api.call("GET", "/v1/health", headers={"Origin": "https://evil.example"})
    assert res.status_code == 200 and "Access-Control-Allow-Origin" not in res.headers
    pre = api.call("OPTIONS", "/v1/spaces", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_preflight_allows_the_methods_and_headers_the_app_sends(api, origins):
    res = api.call("OPTIONS", "/v1/spaces/sp_1/speak-requests", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert res.status_code == 204
    assert res.headers["Access-Control-Allow-Origin"] == APP
    methods = {m.strip() for m in res.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "OPTIONS"} <= methods
    allowed = {h.strip().lower() for h in res.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed


def test_every_path_answers_a_preflight(api, origins):
    from chalicelib.api.routing import ENDPOINTS

    for path in {ep.path for ep in ENDPOINTS}:
        concrete = re.sub(r"{\w+}", "x1", path)
        res = api.call("OPTIONS", concrete, headers={"Origin": APP, "Access-Control-Request-Method": "GET"})
        assert res.status_code == 204 and res.headers.get("Access-Control-Allow-Origin") == APP, path


def test_the_local_stage_allows_the_local_web_app():
    from chalicelib.settings import Settings

    assert APP in Settings().cors_allowed_origins


def test_the_root_says_where_to_go(api):
    res = api.call("GET", "/")
    assert res.status_code == 200, res.body
    assert res.json["docs_url"] == "/v1/docs" and res.json["openapi_url"] == "/v1/openapi.json"
    assert "Airwaves" in res.json["message"] and "Missing Authentication Token" not in res.body.decode()


def test_docs_load_their_renderer_from_the_api_not_a_cdn(api):
    page = api.call("GET", "/v1/docs").body.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
    for src in sources:
        if src.startswith("docs/assets/"):
            asset = api.call("GET", "/v1/" + src)
            assert asset.status_code == 200 and len(asset.body) > 10_000, src
    js = api.call("GET", "/v1/docs/assets/swagger-ui-bundle.js")
    assert js.headers["Content-Type"].startswith("application/javascript") and b"SwaggerUIBundle" in js.body
    missing = api.call("GET", "/v1/docs/assets/secrets.txt")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
