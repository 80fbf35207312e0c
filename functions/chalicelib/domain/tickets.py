"""Ticket rules that need no Stripe: what a ticket offer may look like."""
from __future__ import annotations

from .errors import field_error

PRICE_MIN_CENTS = 100
PRICE_MAX_CENTS = 99_900

# Stripe's minimum charge per currency, in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
# A ticket must cost at least max(PRICE_MIN_CENTS, Stripe's minimum) so every sale can be charged.
STRIPE_MINIMUM_MINOR_UNITS: dict[str, int] = {
    "usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "nzd": 50, "sgd": 50,
    "dkk": 250, "nok": 300, "sek": 300, "pln": 200, "czk": 1500, "hkd": 400, "mxn": 1000,
    "brl": 50, "inr": 50, "aed": 200,
}


def check_ticket_offer(price_cents: int, currency: str, quantity: int, *, max_quantity: int) -> str:
    """Validate a ticket offer; returns the normalised (lower-case) currency."""
    currency = currency.lower()
    if currency not in STRIPE_MINIMUM_MINOR_UNITS:
        raise field_error("ticket.currency", f"'{currency}' is not a supported currency")
    low = max(PRICE_MIN_CENTS, STRIPE_MINIMUM_MINOR_UNITS[currency])
    if not low <= price_cents <= PRICE_MAX_CENTS:
        raise field_error("ticket.price_cents", f"must be between {low} and {PRICE_MAX_CENTS}")
    if not 1 <= quantity <= max_quantity:
        raise field_error("ticket.quantity", f"must be between 1 and {max_quantity}")
    return currency
