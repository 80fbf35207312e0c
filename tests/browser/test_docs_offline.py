"""``/v1/docs`` renders in a real browser with every request off the API's origin refused: the
renderer is served from a package, not a CDN."""
from __future__ import annotations


def test_docs_render_with_the_network_cut_off(api, playwright_driver, chromium_path):
    from tests.browser.conftest import ApiOverHttp
    from tests.fixtures_livekit import LockedApi

    server = ApiOverHttp(LockedApi(api))
    browser = playwright_driver.chromium.launch(executable_path=chromium_path)
    try:
        page = browser.new_page()
        elsewhere: list[str] = []

        def only_the_api(route):
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_api)
        page.goto(f"{server.url}/v1/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() >= 40
        assert page.get_by_text("/v1/spaces/{space_id}/join").count() >= 1
        assert elsewhere == []
    finally:
        browser.close()
        server.close()
