"""Buying a ticket in the browser. Locally: the buyer clicks "Buy ticket" on a scheduled ticketed
Space and the page says it is paid, which only the real Stripe webhook code can make true (the
dev-only pay route delivers a signed payment_intent.succeeded), and the page never contacts
js.stripe.com (every request there is intercepted and counted). In a deployed stage (the API root
made to report ``prod``): the page mounts Stripe's Payment Element with the client secret and
publishable key of the purchase answer (js.stripe.com answered by a recording stand-in for
Stripe.js, since the machine is offline). Stripe calls from the API go to stripe-mock."""
from __future__ import annotations

import json
import re

import pytest

from tests.browser.test_token_sign_in import mint
from tests.browser.test_web_app import sign_in

pytestmark = [pytest.mark.livekit, pytest.mark.stripe]

STRIPE_JS = re.compile(r"^https://([a-z0-9-]+\.)*stripe\.(com|network)/")

# Records what the page asks of Stripe.js: the key, the Elements options, the element mounted.
FAKE_STRIPE_JS = """
window.__stripeCalls = [];
window.Stripe = function (key) {
  window.__stripeCalls.push(["Stripe", key]);
  return {
    _registerWrapper: function () {},
    elements: function (opts) {
      window.__stripeCalls.push(["elements", opts.clientSecret]);
      return { create: function (type) {
        window.__stripeCalls.push(["create", type]);
        return { mount: function (el) { el.textContent = "stand-in payment element"; window.__stripeCalls.push(["mount", el.id]); },
                 destroy: function () {} };
      } };
    },
    confirmPayment: function () { return Promise.resolve({ paymentIntent: { status: "processing" } }); },
  };
};
window.Stripe.version = "endive";
"""


@pytest.fixture
def space(stripe, live_api):
    """A scheduled ticketed Space by hana, made before ``web_stack`` starts draining the work queue
    (a drain between a warm-up Space's start and end could race it)."""
    stripe.make_host("hana")
    return stripe.ticketed_space("hana", price_cents=500, quantity=5)


def test_a_buyer_pays_for_a_ticket_in_the_page(space, web_stack, browser_with_tone, live_api):
    context = browser_with_tone(440.0).new_context()
    to_stripe: list[str] = []

    def refuse(route) -> None:
        to_stripe.append(route.request.url)
        route.abort()

    context.route(STRIPE_JS, refuse)
    page = context.new_page()
    page.set_default_timeout(20_000)

    sign_in(page, web_stack.web_url, "bo", "Bo")
    card = page.locator("#scheduled-list li", has_text=space["title"]).first
    assert "Ticket 5.00 USD" in card.text_content()
    card.get_by_role("button", name="Buy ticket").click()
    page.wait_for_function("/Your ticket to .* is paid/.test(document.getElementById('status').textContent)")

    mine = live_api.call("GET", "/v1/me/tickets", as_user="bo").json["items"]
    assert [(t["space_id"], t["status"]) for t in mine] == [(space["id"], "paid")]
    # the local stage never loads Stripe.js, nor any script from Stripe
    assert to_stripe == []
    assert page.evaluate("() => [...document.scripts].filter(s => /stripe/.test(s.src)).length") == 0
    assert page.locator("#payment-view").is_hidden()


def test_a_deployed_stage_mounts_the_payment_element(space, web_stack, browser_with_tone, live_api):
    live_api.make_user("bo", 10, display_name="Bo", birthdate="1990-01-01")  # the identity provider's user
    context = browser_with_tone(440.0).new_context()
    loaded: list[str] = []

    def stripe_js(route) -> None:
        loaded.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body=FAKE_STRIPE_JS)

    def deployed_root(route) -> None:
        res = route.fetch()
        body = res.json()
        body["stage"] = "prod"
        route.fulfill(response=res, body=json.dumps(body))

    context.route(STRIPE_JS, stripe_js)
    context.route(f"{web_stack.api_url}/", deployed_root)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(web_stack.web_url)
    # a deployed stage offers only the token sign-in
    page.wait_for_selector("#signin-form[hidden]", state="attached")
    page.get_by_label("Token", exact=True).fill(mint("bo"))
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_selector("#home-view:not([hidden])")

    card = page.locator("#scheduled-list li", has_text=space["title"]).first
    card.get_by_role("button", name="Buy ticket").click()
    page.locator("#payment-element").get_by_text("stand-in payment element").wait_for()
    assert page.locator("#payment-title").text_content() == f"Pay for {space['title']}: 5.00 USD"

    mine = live_api.call("GET", "/v1/me/tickets", as_user="bo").json["items"]
    assert [(t["space_id"], t["status"]) for t in mine] == [(space["id"], "pending")]
    calls = page.evaluate("window.__stripeCalls")
    assert calls[0][0] == "Stripe" and calls[0][1].startswith("pk_")
    assert calls[1][0] == "elements" and calls[1][1].startswith("pi_") and "_secret_" in calls[1][1]
    assert calls[2:] == [["create", "payment"], ["mount", "payment-element"]]
    assert len(loaded) == 1 and re.match(r"^https://js\.stripe\.com/[a-z0-9]+/stripe\.js", loaded[0])

    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_function("/Your payment is processing/.test(document.getElementById('status').textContent)")
    assert page.locator("#payment-view").is_hidden()
