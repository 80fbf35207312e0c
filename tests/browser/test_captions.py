"""Live captions in the browser: a transcriber connected to the Space's real LiveKit room sends
text streams on ``lk.transcription`` (the LiveKit agents convention) attributed to the host's audio
track; the listener's captions live region shows the text under the host's name."""
from __future__ import annotations

import asyncio
import threading

import pytest

from tests.browser.test_web_app import sign_in

pytestmark = pytest.mark.livekit


async def _transcribe(url: str, token: str, space_id: str, host_track: str, done: threading.Event) -> None:
    from livekit import rtc

    room = rtc.Room()
    await room.connect(url, token)
    try:
        # uncompressed: this livekit-client drops the Python SDK's deflate-compressed text streams
        await room.local_participant.send_text("Welcome to the captions test", topic="lk.transcription", attributes={
            "lk.segment_id": "SG_1", "lk.transcribed_track_id": host_track, "lk.transcription_final": "true"},
            compress=False)
        while not done.is_set():
            await asyncio.sleep(0.1)
    finally:
        await room.disconnect()


def test_captions_from_lk_transcription_reach_the_page(web_stack, browser_with_tone, live_api, livekit_server):
    from livekit import api as lkapi

    browser = browser_with_tone(440.0)
    host, listener = browser.new_context().new_page(), browser.new_context().new_page()
    for page in (host, listener):
        page.set_default_timeout(20_000)
    sign_in(host, web_stack.web_url, "hana", "Hana")
    host.get_by_label("Title", exact=True).fill("Captioned")
    host.get_by_role("button", name="Create Space").click()
    host.get_by_role("button", name="Turn microphone on").click()
    host.get_by_role("button", name="Turn microphone off").wait_for()
    space_id = host.evaluate("window.airwaves.spaceId()")
    sign_in(listener, web_stack.web_url, "lee", "Lee")
    listener.get_by_role("button", name="Join Captioned").click()
    listener.wait_for_function("window.airwaves.peakHz() !== null")
    host_track = listener.evaluate("""() => {
      const p = window.airwaves.remoteTracks();
      return p.find((t) => t.identity === 'hana').sid;
    }""")

    token = (lkapi.AccessToken(livekit_server.api_key, livekit_server.api_secret).with_identity("agent-captions")
             .with_grants(lkapi.VideoGrants(room_join=True, room=space_id, can_subscribe=False, can_publish=False,
                                            can_publish_data=True)).to_jwt())
    done = threading.Event()
    failures: list[BaseException] = []

    def transcriber() -> None:
        try:
            asyncio.run(_transcribe(livekit_server.url, token, space_id, host_track, done))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    worker = threading.Thread(target=transcriber)
    worker.start()
    try:
        region = listener.locator("#captions")
        try:
            region.get_by_text("hana: Welcome to the captions test").wait_for()
        except Exception:  # noqa: BLE001 - any wait failure: say what the page shows
            raise AssertionError(f"captions: {region.inner_text()!r}; transcriber: {failures!r}") from None
        assert region.get_attribute("aria-live") == "polite"
    finally:
        done.set()
        worker.join(timeout=20)
