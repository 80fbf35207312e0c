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

from chalicelib.domain.tickets import Earnings, LedgerEntry, PayoutAccount

from .table import ConditionFailed, Table, serialize, values


def ledger_put(host_id: str, entry: LedgerEntry) -> dict[str, Any]:
    item = entry.model_dump(mode="json")
    item.update({"PK": f"CREATOR#{host_id}",
                 "SK": f"LEDGER#{entry.at.isoformat()}#{entry.ticket_id}#{entry.kind}"})
    return {"Put": {"Item": serialize(item), "ConditionExpression": "attribute_not_exists(PK)"}}


def earnings_change(host_id: str, *, gross: int, fee: int, net: int, sold: int, refunded: int) -> dict[str, Any]:
    return {"Update": {
        "Key": serialize({"PK": f"CREATOR#{host_id}", "SK": "EARNINGS"}),
        "UpdateExpression": "ADD lifetime_gross_cents :g, platform_fee_cents :f, host_net_cents :n, "
                            "tickets_sold :s, tickets_refunded :r",
        "ExpressionAttributeValues": values({":g": gross, ":f": fee, ":n": net, ":s": sold, ":r": refunded}),
    }}


class DynamoPayouts:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- payout accounts -----------------------------------------------------------------------
    def get_account(self, user_id: str, *, consistent: bool = False) -> PayoutAccount | None:
        item = self.table.get(f"USER#{user_id}", "PAYOUTS", consistent=consistent)
        return PayoutAccount.model_validate(_data(item)) if item else None

    def add_account(self, account: PayoutAccount) -> PayoutAccount:
        """Store a new account unless the user already has one (then return theirs): two
        concurrent onboardings end with one account on file."""
        item = {**account.model_dump(mode="json"), "PK": f"USER#{account.user_id}", "SK": "PAYOUTS"}
        try:
            self.table.put(item, ConditionExpression="attribute_not_exists(PK)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            existing = self.get_account(account.user_id, consistent=True)
            if existing is None:  # pragma: no cover - the condition failed on an item that exists
                raise RuntimeError("payout account vanished") from exc
            return existing
        self.table.put({"PK": f"PAYACCT#{account.account_id}", "SK": "PAYACCT", "user_id": account.user_id})
        return account

    def account_owner(self, account_id: str) -> str | None:
        item = self.table.get(f"PAYACCT#{account_id}", "PAYACCT")
        return item.get("user_id") if item else None

    def apply_account_state(self, user_id: str, account_id: str, state: dict[str, Any], synced_at: int) -> bool:
        """Keep Stripe's view of the account, unless a newer one is already stored (events can
        arrive out of order). Returns whether it was applied."""
        try:
            self.table.update(
                f"USER#{user_id}", "PAYOUTS",
                UpdateExpression="SET charges_enabled = :c, payouts_enabled = :p, details_submitted = :d, "
                                 "synced_at = :t",
                ConditionExpression="attribute_exists(PK) AND account_id = :a AND "
                                    "(attribute_not_exists(synced_at) OR synced_at <= :t)",
                ExpressionAttributeValues=values({
                    ":c": bool(state.get("charges_enabled")), ":p": bool(state.get("payouts_enabled")),
                    ":d": bool(state.get("details_submitted")), ":t": synced_at, ":a": account_id}),
            )
            return True
        except ConditionFailed:
            return False

    # -- buyers' Stripe customers --------------------------------------------------------------
    def get_customer(self, user_id: str) -> str | None:
        item = self.table.get(f"USER#{user_id}", "STRIPE_CUSTOMER")
        return item.get("customer_id") if item else None

    def add_customer(self, user_id: str, customer_id: str) -> str:
        """Keep the first customer stored for ``user_id`` (a concurrent create loses)."""
        try:
            self.table.put({"PK": f"USER#{user_id}", "SK": "STRIPE_CUSTOMER", "customer_id": customer_id},
                           ConditionExpression="attribute_not_exists(PK)")
            return customer_id
        except ConditionFailed:
            return self.get_customer(user_id) or customer_id

    # -- earnings and ledger ---------------------------------------------------------------------
    def earnings(self, host_id: str, *, consistent: bool = True) -> Earnings:
        item = self.table.get(f"CREATOR#{host_id}", "EARNINGS", consistent=consistent)
        return Earnings.model_validate(_data(item)) if item else Earnings()

    def ledger_page(self, host_id: str, start: dict[str, Any] | None, limit: int) -> tuple[list[LedgerEntry], dict[str, Any] | None]:
        """Newest first."""
        items, last = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues=values({":pk": f"CREATOR#{host_id}", ":p": "LEDGER#"}),
            ScanIndexForward=False, limit=limit, start_key=start)
        return [LedgerEntry.model_validate(_data(i)) for i in items], last


def _data(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("PK", "SK") and not k.startswith("GSI")}
