"""The clip, chat-mute and block buttons in a real browser against the real stack: a listener
clips the live Space (the API holds a pending clip by them), and after the host turns clips off
the button's refusal reads as a sentence; the host mutes the listener's chat and the listener's
send shows a sentence (nothing posted); the host blocks the listener, who is then refused at join
with a sentence."""
from __future__ import annotations

import pytest

from tests.browser.test_web_app import sign_in

pytestmark = pytest.mark.livekit


def _error(page) -> str:
    box = page.locator("#error")
    box.wait_for()
    text = box.text_content() or ""
    assert "{" not in text and text.endswith(".")
    return text


def test_clip_chat_mute_and_block_buttons(web_stack, browser_with_tone, live_api):
    browser = browser_with_tone(440.0)
    host, listener = browser.new_context().new_page(), browser.new_context().new_page()
    for page in (host, listener):
        page.set_default_timeout(20_000)

    sign_in(host, web_stack.web_url, "hana", "Hana")
    host.get_by_label("Title", exact=True).fill("Moderated")
    host.get_by_label("Topics (comma separated, up to 3)").fill("rules")
    host.get_by_role("button", name="Create Space").click()
    host.wait_for_function("document.getElementById('room-role').textContent === 'host'")
    space_id = host.evaluate("window.airwaves.spaceId()")

    sign_in(listener, web_stack.web_url, "lee", "Lee")
    listener.get_by_label("Topic", exact=True).fill("rules")
    listener.get_by_role("button", name="Show", exact=True).click()
    listener.locator("#live-list").get_by_role("button", name="Join Moderated").click()
    listener.wait_for_function("document.getElementById('room-role').textContent === 'listener'")
    host.locator("#people").get_by_text("lee · listener").wait_for()

    # clip: the listener's button makes a clip the API holds
    listener.get_by_role("button", name="Clip the last 30 seconds").click()
    listener.wait_for_function("/Your clip is (being made|ready)/.test(document.getElementById('status').textContent)")
    clips = live_api.call("GET", f"/v1/spaces/{space_id}/clips", as_user="lee").json["items"]
    assert len(clips) == 1
    # the host turns clips off: the button's refusal is a sentence
    host.get_by_label("Clips", exact=True).uncheck()
    host.wait_for_function("/clips off/.test(document.getElementById('status').textContent)")
    listener.get_by_role("button", name="Clip the last 30 seconds").click()
    assert _error(listener) == "The host turned clips off for this Space."

    # chat-mute: the listener can still listen, but a send shows a sentence and posts nothing
    listener.get_by_label("Message", exact=True).fill("before the mute")
    listener.get_by_role("button", name="Send", exact=True).click()
    host.locator("#chat-log").get_by_text("before the mute").wait_for()
    host.get_by_role("button", name="Mute lee in chat").click()
    host.wait_for_function("/lee is muted in chat/.test(document.getElementById('status').textContent)")
    listener.get_by_label("Message", exact=True).fill("after the mute")
    listener.get_by_role("button", name="Send", exact=True).click()
    assert _error(listener) == "A host muted your messages in this Space; you can still listen."
    texts = [m["text"] for m in live_api.call("GET", f"/v1/spaces/{space_id}/messages", as_user="hana").json["items"]]
    assert "after the mute" not in texts and "before the mute" in texts

    # block: the listener is refused at the next join, with a sentence
    host.get_by_role("button", name="Block lee").click()
    host.wait_for_function("/You blocked lee/.test(document.getElementById('status').textContent)")
    listener.wait_for_timeout(500)
    if listener.locator("#room-view").is_visible():
        listener.get_by_role("button", name="Leave", exact=True).click()
    listener.wait_for_selector("#home-view:not([hidden])")
    listener.get_by_role("button", name="Show", exact=True).click()
    listener.locator("#live-list").get_by_role("button", name="Join Moderated").click()
    assert _error(listener) == "The host of this Space blocked you."
    assert listener.locator("#room-view").is_hidden()
