"""Signing in with the identity provider's token in a real browser: a token signed as the local
stage's auth accepts (HS256 with the stage's dev secret, as ``POST /v1/dev/tokens`` mints it) is
pasted into "Sign in with a token"; the page then acts as that user (the API sees the follow),
keeps the token in sessionStorage and never in localStorage. A token in the URL fragment signs in
too and leaves the address bar; a forged token is refused with a sentence."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.livekit


def mint(user_id: str) -> str:
    from chalicelib.api.auth import mint_dev_token
    from chalicelib.settings import get_settings

    token, _ = mint_dev_token(user_id, admin=False, settings=get_settings())
    return token


def test_sign_in_with_a_token_then_act_as_that_user(web_stack, browser_with_tone, live_api):
    live_api.make_user("tara", 1000, display_name="Tara")
    live_api.make_user("hana", 1000, display_name="Hana")
    page = browser_with_tone(440.0).new_context().new_page()
    page.set_default_timeout(20_000)
    page.goto(web_stack.web_url)

    # the local stage offers both forms
    assert page.locator("#signin-form").is_visible()
    page.get_by_label("Token", exact=True).fill(mint("tara"))
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_selector("#home-view:not([hidden])")
    assert "Signed in as Tara (@tara)" in page.locator("#whoami").text_content()

    # the page acts as tara
    page.get_by_label("User id to follow", exact=True).fill("hana")
    page.get_by_role("button", name="Follow", exact=True).click()
    page.wait_for_function("/You follow hana now/.test(document.getElementById('status').textContent)")
    following = live_api.call("GET", "/v1/me/following", as_user="tara").json["items"]
    assert [u["id"] for u in following] == ["hana"]

    # stored for this tab only; a reload stays signed in as tara
    stored = page.evaluate("() => [sessionStorage.getItem('airwaves.token'), localStorage.length]")
    assert stored[0] and stored[1] == 0
    page.reload()
    page.wait_for_selector("#home-view:not([hidden])")
    assert "Signed in as Tara" in page.locator("#whoami").text_content()


def test_a_token_in_the_url_fragment_and_a_forged_token(web_stack, browser_with_tone, live_api):
    live_api.make_user("tara", 1000, display_name="Tara")
    browser = browser_with_tone(440.0)
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{web_stack.web_url}/#access_token={mint('tara')}")
    page.wait_for_selector("#home-view:not([hidden])")
    assert "Signed in as Tara" in page.locator("#whoami").text_content()
    assert "access_token" not in page.url

    # a token with tara's subject but the wrong signature is refused, as a sentence
    header, payload, _ = mint("tara").split(".")
    other = browser.new_context().new_page()
    other.set_default_timeout(20_000)
    other.goto(web_stack.web_url)
    other.get_by_label("Token", exact=True).fill(f"{header}.{payload}.c2lnbmF0dXJl")
    other.get_by_role("button", name="Sign in with the token").click()
    error = other.locator("#error")
    error.wait_for()
    assert error.text_content().startswith("The token was refused:")
    assert "{" not in error.text_content()
    assert other.locator("#home-view").is_hidden()
    assert other.evaluate("() => sessionStorage.getItem('airwaves.token')") is None
