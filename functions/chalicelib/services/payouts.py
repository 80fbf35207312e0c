"""Creators get paid: onboarding to Stripe Connect (Express) and what they earned.

The account's state (``charges_enabled``...) is what Stripe last told us in an ``account.updated``
event; ticketed hosting and ticket sales read it from our table, never from Stripe on a request.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import UpstreamUnavailable
from chalicelib.domain.fees import FeeSchedule
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.payments import AccountState
from chalicelib.domain.tickets import Earnings, LedgerEntry, PayoutAccount
from chalicelib.ports import PaymentGateway, PayoutRepository


@dataclass(frozen=True)
class Onboarding:
    account_id: str
    onboarding_url: str


@dataclass(frozen=True)
class PayoutStatus:
    account: PayoutAccount | None
    earnings: Earnings
    fee_percent: float
    fee_tier: int
    next_tier_at_cents: int | None
    recent: Page[LedgerEntry]


@dataclass
class PayoutService:
    payouts: PayoutRepository
    gateway: PaymentGateway
    fees: FeeSchedule
    refresh_url: str
    return_url: str

    def start_onboarding(self, user_id: str) -> Onboarding:
        """Create the creator's connected account once, then a fresh onboarding link (links are
        single-use and short-lived, so every call makes a new one)."""
        account = self.payouts.get_account(user_id, consistent=True)
        if account is None:
            state = self.gateway.create_express_account(user_id)
            if not state.account_id:
                raise UpstreamUnavailable("Stripe returned an account without an id")
            account = self.payouts.add_account(PayoutAccount(
                user_id=user_id, account_id=state.account_id, charges_enabled=state.charges_enabled,
                payouts_enabled=state.payouts_enabled, details_submitted=state.details_submitted,
                created_at=utcnow()))
        url = self.gateway.onboarding_link(account.account_id, refresh_url=self.refresh_url, return_url=self.return_url)
        return Onboarding(account_id=account.account_id, onboarding_url=url)

    def charges_enabled(self, user_id: str) -> bool:
        account = self.payouts.get_account(user_id)
        return bool(account and account.charges_enabled)

    def status(self, user_id: str, page: PageRequest) -> PayoutStatus:
        earnings = self.payouts.earnings(user_id)
        tier_index = self.fees.tier_index(max(0, earnings.lifetime_gross_cents))
        tier = self.fees.tiers[tier_index]
        recent = self.payouts.ledger_page(user_id, page)
        return PayoutStatus(account=self.payouts.get_account(user_id), earnings=earnings,
                            fee_percent=tier.percent, fee_tier=tier_index,
                            next_tier_at_cents=tier.up_to_cents, recent=recent)

    def account_updated(self, account: AccountState, event_created: int) -> bool:
        """Apply an ``account.updated`` event unless a newer state is already stored. The owner
        comes from our metadata on the account, else from the account-id pointer."""
        if not account.account_id:
            return False
        user_id = account.user_id or self.payouts.account_owner(account.account_id)
        if not user_id:
            return False
        return self.payouts.apply_account_state(user_id, account, event_created)
