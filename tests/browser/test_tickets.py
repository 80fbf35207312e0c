"""Buying a ticket in the browser, locally: the buyer clicks "Buy ticket" on a scheduled ticketed
Space and the page says it is paid, which only the real Stripe webhook code can make true (the
dev-only pay route delivers a signed payment_intent.succeeded). Stripe calls go to stripe-mock."""
from __future__ import annotations

import pytest

from tests.browser.test_web_app import sign_in

pytestmark = [pytest.mark.livekit, pytest.mark.stripe]


def test_a_buyer_pays_for_a_ticket_in_the_page(stripe, web_stack, browser_with_tone, live_api):
    stripe.make_host("hana")
    space = stripe.ticketed_space("hana", price_cents=500, quantity=5)
    page = browser_with_tone(440.0).new_context().new_page()
    page.set_default_timeout(20_000)

    sign_in(page, web_stack.web_url, "bo", "Bo")
    card = page.locator("#scheduled-list li", has_text=space["title"]).first
    assert "Ticket 5.00 USD" in card.text_content()
    card.get_by_role("button", name="Buy ticket").click()
    page.wait_for_function("/Your ticket to .* is paid/.test(document.getElementById('status').textContent)")

    mine = live_api.call("GET", "/v1/me/tickets", as_user="bo").json["items"]
    assert [(t["space_id"], t["status"]) for t in mine] == [(space["id"], "paid")]
