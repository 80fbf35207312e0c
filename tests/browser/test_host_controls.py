"""Host controls in a real browser against the real stack: a listener finds the Space in
"live from people you follow", the pinned item and a reaction cross, a private message reaches
only its two parties' pages, a denied hand is told, and a removed listener's page says so."""
from __future__ import annotations

import pytest

from tests.browser.test_web_app import sign_in

pytestmark = pytest.mark.livekit


def test_pin_reactions_private_chat_deny_and_remove(web_stack, browser_with_tone, screenshot):
    browser = browser_with_tone(440.0)
    host, listener = browser.new_context().new_page(), browser.new_context().new_page()
    for page in (host, listener):
        page.set_default_timeout(20_000)

    sign_in(host, web_stack.web_url, "hana", "Hana")
    host.get_by_label("Title", exact=True).fill("Moderated")
    host.get_by_role("button", name="Create Space").click()
    host.wait_for_function("document.getElementById('room-role').textContent === 'host'")

    # the listener follows the host and finds the Space in the following bar
    sign_in(listener, web_stack.web_url, "lee", "Lee")
    listener.get_by_label("User id to follow", exact=True).fill("hana")
    listener.get_by_role("button", name="Follow", exact=True).click()
    listener.locator("#following-live").get_by_role("button", name="Join Moderated").click()
    listener.wait_for_function("document.getElementById('room-role').textContent === 'listener'")
    host.locator("#people").get_by_text("lee · listener").wait_for()

    # pinned item
    host.get_by_label("Text", exact=True).fill("Read the rules")
    host.get_by_role("button", name="Pin", exact=True).click()
    listener.locator("#pinned").get_by_text("Read the rules").wait_for()

    # a reaction reaches the host
    listener.get_by_role("button", name="React 👏").click()
    host.locator("#reaction-feed").get_by_text("👏 lee").wait_for()

    # a private message
    host.get_by_label("To", exact=True).select_option("lee")
    host.get_by_label("Message", exact=True).fill("Just between us")
    host.get_by_role("button", name="Send", exact=True).click()
    listener.locator("#chat-log li.private").get_by_text("Just between us").wait_for()
    assert "privately" in listener.locator("#chat-log li.private").text_content()

    # a denied hand is told
    listener.get_by_role("button", name="Raise hand").click()
    host.get_by_role("button", name="Deny lee").click()
    listener.wait_for_function("/declined your request/.test(document.getElementById('status').textContent)")
    screenshot(host, "host-controls")

    # removing the listener: their page says so and is back home
    host.get_by_role("button", name="Remove lee").click()
    listener.wait_for_function("/You were removed/.test(document.getElementById('status').textContent)",
                               timeout=30_000)
    assert listener.locator("#room-view").is_hidden()
