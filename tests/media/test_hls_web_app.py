"""HLS overflow in the web app (issue 16), in Debian's chromium under Playwright against the real
API, media worker and livekit-server (the stack of ``test_worker_with_api.py``, WebRTC cap one):
a host opens a Space in the page; one listener takes the only WebRTC seat; the next listener's
page gets an HLS answer to its join and plays the live playlist with hls.js (the element's time
moves on, in silence, and its playlist reloads move to the fresh link the page joins again for
before the first expires); the host turns on a microphone playing 440 Hz, and the HLS page hears it
(the page's WebAudio analyser over the media element, as the WebRTC browser tests measure). The
HLS listener then raises a hand, the host approves it in the UI, and the page moves to WebRTC as
a speaker. The delay microphone on -> tone heard over HLS is printed, not asserted.

Here, not in tests/browser: the live HLS is cut by the media worker, whose venv runs this tier.
"""
from __future__ import annotations

import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import chromium_path, tone_browsers  # noqa: F401 - a fixture, found by name
from tests.media.test_worker_with_api import running_stack
from tests.processes import free_port
from tests.real_servers import unavailable

pytestmark = pytest.mark.livekit

HOST_HZ = 440.0
BIN_HZ = 48_000 / 8192  # the page's analyser resolution
LINK_TTL_SECONDS = 66


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The stack with the web app served on a port its API allows (CORS)."""
    from infra.local.web_app import DIST, WebAppServer

    if not (DIST / "app.js").exists():
        unavailable("the web app build", f"{DIST / 'app.js'} is missing; run `make web`")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = {"AIRWAVES_CORS_ALLOWED_ORIGINS": f'["{origin}"]',
                # links valid 66 s: the page joins again for a fresh one a minute early, 6 s in
                "AIRWAVES_HLS_LINK_TTL_SECONDS": str(LINK_TTL_SECONDS)}
    with running_stack(tmp_path_factory.mktemp("hls-web"), settings) as stack:
        server = WebAppServer(stack.base, port=port)
        try:
            yield stack, server.url
        finally:
            server.close()


@pytest.fixture(scope="module")
def chromium(chromium_path, tmp_path_factory):  # noqa: F811
    """``launch(hz)``: a chromium whose fake microphone plays a ``hz`` tone. Module-scoped
    Playwright: while it is open its loop counts as running in this thread."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("playwright", str(exc))
    with sync_playwright() as p, tone_browsers(p, chromium_path, tmp_path_factory.mktemp("tones")) as launch:
        yield launch


def sign_in(page, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("User id", exact=True).fill(user)
    page.get_by_label("Display name", exact=True).fill(user)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#home-view:not([hidden])")


def hears(page, hz: float, timeout: float) -> None:
    """Wait until the page's loudest frequency is ``hz``."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        last = page.evaluate("window.airwaves.peakHz()")
        if last is not None and abs(last - hz) <= 2 * BIN_HZ:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the page did not hear {hz} Hz; its loudest frequency was {last}; "
                         f"playback {page.evaluate('window.airwaves.playback()')}")


def test_past_the_cap_the_web_app_plays_hls_and_hears_the_host(web, chromium):
    stack, url = web
    host = chromium(HOST_HZ).new_context().new_page()
    listener = chromium(660.0).new_context().new_page()
    for page in (host, listener):
        page.set_default_timeout(30_000)
    said: list[str] = []  # the listener page's console, shown when something times out
    listener.on("console", lambda m: said.append(f"{m.type}: {m.text}"))
    listener.on("pageerror", lambda e: said.append(f"error: {e}"))
    tokens: list[str] = []  # the link of each live playlist request, in order
    listener.on("request", lambda r: tokens.append(parse_qs(urlsplit(r.url).query)["token"][0])
                if urlsplit(r.url).path.endswith("/live.m3u8") else None)

    sign_in(host, url, "web-hls-host")
    host.get_by_label("Title", exact=True).fill("Overflow in the browser")
    host.get_by_role("button", name="Create Space").click()
    host.wait_for_function("document.getElementById('room-role').textContent === 'host'")
    space_id = host.evaluate("window.airwaves.spaceId()")

    # the only WebRTC seat goes to someone else (their seat stays within its grace period)
    seated = stack.http.post(f"/v1/spaces/{space_id}/join",
                             headers={"Authorization": f"Bearer {stack.dev_token('web-seated')}"})
    assert seated.status_code == 200 and seated.json()["transport"] == "webrtc", seated.text

    # the next listener's page plays the live HLS (the host silent for now)
    sign_in(listener, url, "web-hls-listener")
    listener.get_by_role("button", name="Join Overflow in the browser").click()
    listener.wait_for_selector("#room-view:not([hidden])")
    assert listener.evaluate("window.airwaves.transport()") == "hls"
    try:
        listener.wait_for_function("/a few seconds behind the stage/.test(document.getElementById('status').textContent)",
                                   timeout=60_000)
    except Exception as exc:
        raise AssertionError(f"{listener.locator('#status').text_content()} / {listener.locator('#error').text_content()}"
                             f" / {listener.evaluate('window.airwaves.playback()')} / {said[-20:]}") from exc
    first = listener.evaluate("window.airwaves.playback()")
    listener.wait_for_timeout(3000)
    later = listener.evaluate("window.airwaves.playback()")
    assert not later["paused"] and later["readyState"] >= 3, later
    assert later["currentTime"] - first["currentTime"] > 2, (first, later)
    assert listener.evaluate("window.airwaves.peakHz()") is None  # silence
    # the page joined again a minute before its link expires, and the player's reloads use the new one
    deadline = time.monotonic() + 20
    while len(set(tokens)) < 2 and time.monotonic() < deadline:
        listener.wait_for_timeout(500)
    assert len(set(tokens)) >= 2, f"the live playlist was only asked with its first link: {len(tokens)} requests"
    renewed = tokens.index(next(t for t in tokens if t != tokens[0]))
    listener.wait_for_timeout(4000)  # two more reloads
    assert tokens[0] not in tokens[renewed:] and len(tokens) > renewed + 1, tokens
    assert listener.locator("#mic").is_hidden()

    # the host turns the microphone on: the HLS listener hears the tone, some seconds later
    host.get_by_role("button", name="Turn microphone on").click()
    on = time.monotonic()
    host.get_by_role("button", name="Turn microphone off").wait_for()
    hears(listener, HOST_HZ, timeout=60)
    print(f"\nHLS in the web app: the host's microphone on -> its {HOST_HZ:.0f} Hz heard over HLS in "
          f"{time.monotonic() - on:.1f} s", file=sys.stderr)

    # on stage, the page leaves HLS for WebRTC
    listener.get_by_role("button", name="Raise hand").click()
    host.get_by_role("button", name="Approve web-hls-listener").click()
    listener.wait_for_function("window.airwaves.transport() === 'webrtc' && window.airwaves.role() === 'speaker'")
    listener.get_by_role("button", name="Turn microphone on").wait_for()
    hears(listener, HOST_HZ, timeout=25)

    host.get_by_role("button", name="End Space").click()
    listener.wait_for_function("/This Space has ended/.test(document.getElementById('status').textContent)")
