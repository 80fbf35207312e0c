"""Web app numbers.

1. The app's JavaScript: ``web/dist/app.js`` (livekit-client included), raw and gzipped.
2. Join to first audio in a real browser: Debian's chromium (Playwright) runs the web app against
   the API (in process on moto, over loopback HTTP) and a local livekit-server; a host page plays a
   440 Hz fake microphone; a listener page clicks "Join" and the time until its in-page WebAudio
   analyser first peaks at 440 Hz is measured in the page (``performance.now()``), over several
   joins (the listener leaves between runs). p50 and spread.
"""
from __future__ import annotations

import gzip
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from bench.bench_media import local_livekit_server
from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
RUNS = 7

_MEASURE_JOIN = """async (name) => {
  const b = [...document.querySelectorAll('button')].find((x) => x.textContent === name);
  const t0 = performance.now();
  b.click();
  for (;;) {
    const hz = window.airwaves.peakHz();
    if (hz !== null && Math.abs(hz - 440) < 12) return performance.now() - t0;
    if (performance.now() - t0 > 30000) return -1;
    await new Promise((r) => setTimeout(r, 5));
  }
}"""


def bundle_size() -> None:
    js = DIST / "app.js"
    if not js.exists():
        print("  web/dist/app.js is not built (make web)")
        return
    raw = js.read_bytes()
    print(f"web app JavaScript: {len(raw):,} bytes minified, {len(gzip.compress(raw, 9)):,} bytes gzipped (web/dist/app.js)")


def _sign_in(page, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("User id", exact=True).fill(user)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector("#home-view:not([hidden])")


def join_to_first_audio() -> None:
    chromium = shutil.which("chromium")
    if not chromium or not (DIST / "app.js").exists():
        print("  join to first audio: needs Debian's chromium and the built web app (make test installs both)")
        return
    key, secret = "bench", secrets.token_hex(24)
    with local_livekit_server(key, secret) as server, tempfile.TemporaryDirectory() as tmp:
        if server is None:
            return
        _, port = server
        from moto import mock_aws

        import tests.conftest  # noqa: F401 - the local stage's environment
        from infra.local.stage import make_moto_dynamodb_atomic

        os.environ.update({"AIRWAVES_LIVEKIT_URL": f"ws://127.0.0.1:{port}",
                           "AIRWAVES_LIVEKIT_API_URL": f"http://127.0.0.1:{port}",
                           "AIRWAVES_LIVEKIT_API_KEY": key, "AIRWAVES_LIVEKIT_API_SECRET": secret})
        make_moto_dynamodb_atomic()
        with mock_aws():
            samples = _measure(chromium, Path(tmp))
    if samples:
        print(f"join to first audio in chromium ({len(samples)} joins): p50 {percentile(samples, .5):.0f} ms  "
              f"min {min(samples):.0f}  max {max(samples):.0f} ms")
        print("  (click on Join -> API join -> LiveKit connect -> subscribe -> first analyser peak at the host's tone)")


def _measure(chromium: str, tmp: Path) -> list[float]:
    import boto3
    from chalice.test import Client
    from playwright.sync_api import sync_playwright

    from app import app
    from chalicelib.adapters.dynamodb.schema import ensure_table
    from chalicelib.container import reset_container
    from infra.local.web_app import WebAppServer
    from tests.browser.conftest import ApiOverHttp, write_tone
    from tests.conftest import Api
    from tests.fixtures_livekit import LockedApi

    ensure_table(boto3.client("dynamodb", region_name="us-east-1"), os.environ["AIRWAVES_TABLE_NAME"])
    boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=os.environ.get("AIRWAVES_JOBS_QUEUE_NAME", "airwaves-jobs"))
    samples: list[float] = []
    with Client(app) as client, sync_playwright() as p:
        api = ApiOverHttp(LockedApi(Api(client)))
        web = WebAppServer(api.url, port=0)
        os.environ["AIRWAVES_CORS_ALLOWED_ORIGINS"] = f'["{web.url}"]'
        reset_container()
        tone = write_tone(tmp / "tone.wav", 440.0)
        args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={tone}", "--autoplay-policy=no-user-gesture-required"]
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            host = browser.new_context().new_page()
            _sign_in(host, web.url, "bench-host")
            host.get_by_label("Title", exact=True).fill("Bench")
            host.get_by_role("button", name="Create Space").click()
            host.get_by_role("button", name="Turn microphone on").click()
            host.get_by_role("button", name="Turn microphone off").wait_for()
            listener = browser.new_context().new_page()
            _sign_in(listener, web.url, "bench-listener")
            for _ in range(RUNS):
                listener.get_by_role("button", name="Join Bench").wait_for()
                ms = listener.evaluate(_MEASURE_JOIN, "Join Bench")
                if ms >= 0:
                    samples.append(ms)
                listener.get_by_role("button", name="Leave", exact=True).click()
                listener.wait_for_selector("#home-view:not([hidden])")
        finally:
            browser.close()
            web.close()
            api.close()
    return samples


def main() -> None:
    bundle_size()
    join_to_first_audio()


if __name__ == "__main__":
    main()
