"""The web app in a real browser (Debian's chromium under Playwright) against the real stack: a
host opens a Space and speaks, a listener joins and hears the host's tone (measured in the page by
a WebAudio analyser), raises a hand, the host approves it in the UI, the listener's own tone
reaches the host, chat crosses both ways, an API error shows as a sentence, every control has a
label, and when the host ends both pages say so. Screenshots land in .local/screenshots/.
"""
from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.livekit

HOST_HZ, LISTENER_HZ = 440.0, 660.0
BIN_HZ = 48_000 / 8192  # the analyser's resolution


def hears(page, hz: float, timeout: float = 25.0) -> float:
    """Wait until the page's loudest frequency is ``hz`` (within two analyser bins)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = page.evaluate("window.airwaves.peakHz()")
        if last is not None and abs(last - hz) <= 2 * BIN_HZ:
            return float(last)
        page.wait_for_timeout(250)
    raise AssertionError(f"the page did not hear {hz} Hz; its loudest frequency was {last}")


def sign_in(page, url: str, user: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("User id", exact=True).fill(user)
    page.get_by_label("Display name", exact=True).fill(name)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#home-view:not([hidden])")


def unlabeled_controls(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button, meter')]
      .filter(el => !el.closest('[hidden]') && el.type !== 'hidden')
      .filter(el => {
        const name = (el.getAttribute('aria-label') || '').trim() || (el.labels && [...el.labels].map(l => l.textContent).join('').trim())
          || (el.tagName === 'BUTTON' && el.textContent.trim());
        return !name;
      }).map(el => el.outerHTML.slice(0, 120))""")


def test_host_and_listener_in_two_browsers(web_stack, browser_with_tone, screenshot):
    host_browser, listener_browser = browser_with_tone(HOST_HZ), browser_with_tone(LISTENER_HZ)
    host = host_browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    listener = listener_browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    for page in (host, listener):
        page.set_default_timeout(20_000)

    # given a host who opens a Space now and turns the microphone on
    sign_in(host, web_stack.web_url, "hana", "Hana")
    assert unlabeled_controls(host) == []
    screenshot(host, "home")
    host.get_by_label("Title", exact=True).fill("Browser test")
    host.get_by_label("Topics (comma separated, up to 3)").fill("tech")
    host.get_by_role("button", name="Create Space").click()
    host.wait_for_selector("#room-view:not([hidden])")
    host.wait_for_function("document.getElementById('room-role').textContent === 'host'")
    host.get_by_role("button", name="Turn microphone on").click()
    host.get_by_role("button", name="Turn microphone off").wait_for()

    # when a listener finds it by topic and joins
    sign_in(listener, web_stack.web_url, "lee", "Lee")
    listener.get_by_label("Topic", exact=True).fill("tech")
    listener.get_by_role("button", name="Show", exact=True).click()
    listener.get_by_role("button", name="Join Browser test").click()
    listener.wait_for_selector("#room-view:not([hidden])")
    listener.wait_for_function("document.getElementById('room-role').textContent === 'listener'")

    # then the listener hears the host's tone, and has no microphone button
    hears(listener, HOST_HZ)
    assert listener.locator("#mic").is_hidden()

    # the listener raises a hand; the host approves it in the UI
    listener.get_by_role("button", name="Raise hand").click()
    host.get_by_role("button", name="Approve lee").click()
    listener.wait_for_function("document.getElementById('room-role').textContent === 'speaker'")
    mic = listener.get_by_role("button", name="Turn microphone on")
    mic.wait_for()
    assert "microphone is off until you turn it on" in listener.locator("#status").text_content()
    mic.click()
    hears(host, LISTENER_HZ)
    host.wait_for_function("/2 listening/.test(document.getElementById('room-count').textContent)")

    # chat crosses both ways (the live region shows it)
    host.get_by_label("Message", exact=True).fill("Welcome, everyone")
    host.get_by_role("button", name="Send", exact=True).click()
    listener.locator("#chat-log").get_by_text("Welcome, everyone").wait_for()
    listener.get_by_label("Message", exact=True).fill("Thanks for having me")
    listener.get_by_role("button", name="Send", exact=True).click()
    host.locator("#chat-log").get_by_text("Thanks for having me").wait_for()
    for page in (host, listener):
        assert page.locator("#chat-log").get_attribute("aria-live") == "polite"
        assert page.locator("#captions").get_attribute("aria-live") == "polite"
        assert unlabeled_controls(page) == []
    screenshot(host, "room-host")
    screenshot(listener, "room-listener")

    # the host ends the Space: both pages say so
    host.get_by_role("button", name="End Space").click()
    host.wait_for_function("/This Space has ended/.test(document.getElementById('status').textContent)")
    listener.wait_for_function("/This Space has ended/.test(document.getElementById('status').textContent)",
                               timeout=30_000)
    assert listener.locator("#room-view").is_hidden()

    # the ended Space offers its replay; unrecorded, the page says so in a sentence
    host.get_by_role("button", name="Replay Browser test").click()
    host.wait_for_function("!document.getElementById('error').hidden")
    text = host.get_by_role("alert").text_content().strip()
    assert re.fullmatch(r"[A-Z].*[.!?]", text) and "{" not in text, text


def test_api_errors_show_as_sentences(web_stack, browser_with_tone):
    page = browser_with_tone(HOST_HZ).new_context().new_page()
    page.set_default_timeout(20_000)
    sign_in(page, web_stack.web_url, "ada", "Ada")
    page.get_by_label("User id to follow").fill("nobody-by-this-id")
    page.get_by_role("button", name="Follow", exact=True).click()
    error = page.get_by_role("alert")
    error.wait_for()
    text = error.text_content().strip()
    assert re.fullmatch(r"[A-Z].*[.!?]", text), text
    assert "{" not in text and "error" not in text.lower().split()[0], text
