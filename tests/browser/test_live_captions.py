"""Live captions in the web app (issue 14): the real media worker (scripted engine, its own venv)
captions the host's microphone over the real livekit-server, and a listener's page shows each
utterance as one line attributed to the host, its interim words first and then its final text,
lines in the order they were said."""
from __future__ import annotations

import pytest

from tests.browser.conftest import CAPTION_SCRIPT
from tests.browser.test_web_app import sign_in

pytestmark = pytest.mark.livekit

# Every caption line's text each time it changes, as the page showed it.
WATCH_CAPTIONS = """() => {
  window.captionsSeen = [];
  const log = document.getElementById('captions');
  new MutationObserver(() => {
    for (const p of log.querySelectorAll('p:not(.hint)')) {
      const seen = window.captionsSeen;
      if (!seen.includes(p.textContent)) seen.push(p.textContent);
    }
  }).observe(log, {childList: true, subtree: true, characterData: true});
}"""


def caption_lines(page) -> list[str]:
    return page.locator("#captions p:not(.hint)").all_text_contents()


def test_a_listener_sees_the_hosts_words_as_live_captions(web_stack, captioning_worker, browser_with_tone):
    lines = [f"hana: {line}" for line in CAPTION_SCRIPT["hana"][:2]]
    # the host "speaks" 2 s at a time, with 2 s pauses (the VAD ends an utterance after 0.4 s of quiet)
    host = browser_with_tone(440.0, 2.0, 2.0).new_context().new_page()
    listener = browser_with_tone(660.0).new_context().new_page()
    for page in (host, listener):
        page.set_default_timeout(30_000)
    sign_in(host, web_stack.web_url, "hana", "Hana")
    host.get_by_label("Title", exact=True).fill("Captioned")
    host.get_by_label("Topics (comma separated, up to 3)").fill("captions")
    assert host.get_by_role("checkbox", name="Live captions").is_checked(), "captions are on by default"
    host.get_by_role("button", name="Create Space").click()
    host.wait_for_selector("#room-view:not([hidden])")

    sign_in(listener, web_stack.web_url, "lee", "Lee")
    listener.get_by_label("Topic", exact=True).fill("captions")
    listener.get_by_role("button", name="Show", exact=True).click()
    listener.get_by_role("button", name="Join Captioned").click()
    listener.wait_for_selector("#room-view:not([hidden])")
    listener.evaluate(WATCH_CAPTIONS)
    assert listener.locator("#captions-empty").is_visible()

    host.get_by_role("button", name="Turn microphone on").click()
    host.get_by_role("button", name="Turn microphone off").wait_for()
    listener.wait_for_function("(n) => document.querySelectorAll('#captions p:not(.hint)').length >= n", arg=2,
                               timeout=60_000)
    listener.wait_for_function(
        "(want) => [...document.querySelectorAll('#captions p:not(.hint)')].slice(0, 2).map(p => p.textContent)"
        ".join('|') === want", arg="|".join(lines), timeout=30_000)
    log = captioning_worker.log()
    assert caption_lines(listener)[:2] == lines, (caption_lines(listener), log[-3000:])
    assert listener.locator("#captions-empty").count() == 0
    seen = listener.evaluate("window.captionsSeen")
    interim = [s for s in seen if s.startswith("hana: ") and s not in lines]
    assert interim and all(lines[0].startswith(s) or lines[1].startswith(s) for s in interim), seen
    assert caption_lines(host)[:2] == lines, "the host's page shows the same captions"
