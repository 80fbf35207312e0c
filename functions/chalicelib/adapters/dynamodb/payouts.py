"""Payout accounts, Stripe customers, and each creator's append-only ledger and earnings.

| item | PK | SK |
|---|---|---|
| payout account | ``USER#<id>`` | ``PAYOUTS`` |
| account -> user pointer | ``PAYACCT#<account id>`` | ``PAYACCT`` |
| Stripe customer of a buyer | ``USER#<id>`` | ``STRIPE_CUSTOMER`` |
| ledger line (sale or refund) | ``CREATOR#<id>`` | ``LEDGER#<time>#<ticket>#<kind>`` |
| running totals | ``CREATOR#<id>`` | ``EARNINGS`` |

Ledger lines and earnings are written only by the ticket transactions (``tickets.py``) through the
builders here, in the same transaction as the ticket's state change: a line is put once
(``attribute_not_exists``) and never updated; totals move with ``ADD``.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.payments import AccountState
from chalicelib.domain.tickets import Earnings, LedgerEntry, PayoutAccount


def ledger_put(host_id: str, entry: LedgerEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json")
    item.update({"PK": keys.creator_pk(host_id), "SK": keys.ledger_sk(entry.at.isoformat(), entry.ticket_id, entry.kind)})
    return {"Put": {"Item": serialize(item), "ConditionExpression": "attribute_not_exists(PK)"}}


def earnings_change(host_id: str, *, gross: int, fee: int, net: int, sold: int, refunded: int) -> dict[str, Any]:
    return {"Update": {
        "Key": keys.key(keys.creator_pk(host_id), keys.EARNINGS),
        "UpdateExpression": "ADD lifetime_gross_cents :g, platform_fee_cents :f, host_net_cents :n, "
                            "tickets_sold :s, tickets_refunded :r",
        "ExpressionAttributeValues": values({":g": gross, ":f": fee, ":n": net, ":s": sold, ":r": refunded}),
    }}


class DynamoPayouts:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- payout accounts -----------------------------------------------------------------------
    def get_account(self, user_id: str, *, consistent: bool = False) -> PayoutAccount | None:
        item = self.table.get(keys.user_pk(user_id), keys.PAYOUTS, consistent=consistent)
        return PayoutAccount.model_validate(_data(item)) if item else None

    def add_account(self, account: PayoutAccount) -> PayoutAccount:
        """Store a new account unless the user already has one (then return theirs): two
        concurrent onboardings end with one account on file. The account and its account -> user
        pointer go in one transaction, so a failure never leaves an account the pointer misses
        (a retry finds the account on file and would not write the pointer again)."""
        item = {**account.model_dump(mode="json"), "PK": keys.user_pk(account.user_id), "SK": keys.PAYOUTS}
        pointer = {"PK": keys.payment_account_pk(account.account_id), "SK": keys.PAYMENT_ACCOUNT,
                   "user_id": account.user_id}
        try:
            self.table.transact([{"Put": {"Item": serialize(item), "ConditionExpression": "attribute_not_exists(PK)"}},
                                 {"Put": {"Item": serialize(pointer)}}])
        except TransactionCanceled as exc:
            if not exc.failed(0):
                raise
            existing = self.get_account(account.user_id, consistent=True)
            if existing is None:  # pragma: no cover - the condition failed on an item that exists
                raise RuntimeError("payout account vanished") from exc
            return existing
        return account

    def account_owner(self, account_id: str) -> str | None:
        item = self.table.get(keys.payment_account_pk(account_id), keys.PAYMENT_ACCOUNT)
        return str(item["user_id"]) if item and item.get("user_id") else None

    def apply_account_state(self, user_id: str, state: AccountState, synced_at: int) -> bool:
        """Keep Stripe's view of the account, unless a newer one is already stored (events can
        arrive out of order). Returns whether it was applied."""
        try:
            self.table.update(
                keys.user_pk(user_id), keys.PAYOUTS,
                UpdateExpression="SET charges_enabled = :c, payouts_enabled = :p, details_submitted = :d, "
                                 "synced_at = :t",
                ConditionExpression="attribute_exists(PK) AND account_id = :a AND "
                                    "(attribute_not_exists(synced_at) OR synced_at <= :t)",
                ExpressionAttributeValues=values({
                    ":c": state.charges_enabled, ":p": state.payouts_enabled,
                    ":d": state.details_submitted, ":t": synced_at, ":a": state.account_id}),
            )
            return True
        except ConditionFailed:
            return False

    # -- buyers' Stripe customers --------------------------------------------------------------
    def get_customer(self, user_id: str) -> str | None:
        item = self.table.get(keys.user_pk(user_id), keys.STRIPE_CUSTOMER)
        return str(item["customer_id"]) if item and item.get("customer_id") else None

    def add_customer(self, user_id: str, customer_id: str) -> str:
        """Keep the first customer stored for ``user_id`` (a concurrent create loses)."""
        try:
            self.table.put({"PK": keys.user_pk(user_id), "SK": keys.STRIPE_CUSTOMER, "customer_id": customer_id},
                           ConditionExpression="attribute_not_exists(PK)")
            return customer_id
        except ConditionFailed:
            return self.get_customer(user_id) or customer_id

    # -- earnings and ledger ---------------------------------------------------------------------
    def earnings(self, host_id: str, *, consistent: bool = True) -> Earnings:
        item = self.table.get(keys.creator_pk(host_id), keys.EARNINGS, consistent=consistent)
        return Earnings.model_validate(_data(item)) if item else Earnings()

    def ledger_page(self, host_id: str, page: PageRequest) -> Page[LedgerEntry]:
        """Newest first."""
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": keys.creator_pk(host_id), ":p": keys.LEDGER}),
            ScanIndexForward=False, limit=page.limit, start_key=page.start)
        return Page([LedgerEntry.model_validate(_data(i)) for i in items], last)


def _data(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("PK", "SK") and not k.startswith("GSI")}
