"""Money numbers: the Stripe SDK's first-use cost (paid only by routes that move money), and
in-process latency of buying a ticket, of a signed ``payment_intent.succeeded`` webhook, of the cancel
request, and of draining its queued refunds per ticket. Real SDK to a real stripe-mock on free loopback ports,
DynamoDB on moto (so absolute numbers are the emulators', not AWS's or Stripe's: moto copies the
whole table for every TransactWriteItems, so transaction-heavy steps slow down as the table grows;
the profile of a cancel is >90% inside moto's transaction)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.stats import p50_p99
from tests.fixtures_stripe import stripe_signature

ROOT = Path(__file__).resolve().parent.parent
BUYERS = 100
COLD_RUNS = 10

_FIRST_USE_PROBE = """
import time
began = time.perf_counter()
from chalicelib.adapters.stripe import StripeGateway
from chalicelib.secrets import StaticSecrets
g = StripeGateway(StaticSecrets({"stripe_secret_key": "sk_test_bench"}))
g.client
print((time.perf_counter() - began) * 1000)
"""


def first_use() -> None:
    times = []
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", _FIRST_USE_PROBE], cwd=ROOT / "functions",
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out.strip()))
    print(f"stripe SDK import + StripeClient on first use: median {statistics.median(times):.1f} ms "
          f"(min {min(times):.1f}, max {max(times):.1f}, {COLD_RUNS} fresh interpreters)")




def flows(stripe_url: str) -> None:
    from unittest.mock import patch

    from chalice.test import Client
    from moto import mock_aws

    from infra.local.stage import apply_stage_environment, make_moto_dynamodb_atomic

    apply_stage_environment("local", AIRWAVES_TABLE_NAME="airwaves-bench-tickets",
                            AIRWAVES_STRIPE_API_BASE=stripe_url, AIRWAVES_STRIPE_MAX_NETWORK_RETRIES="0")
    from chalicelib.adapters.livekit import LiveKitMedia
    from tests.fixtures_livekit import FakeLiveKit

    make_moto_dynamodb_atomic()
    in_memory_media = patch.object(LiveKitMedia, "from_settings", classmethod(lambda cls, settings, secrets: FakeLiveKit()))
    with mock_aws(), in_memory_media:
        import boto3

        from chalicelib.adapters.dynamodb.schema import ensure_table
        from chalicelib.container import reset_container
        from chalicelib.domain.payments import AccountState
        from chalicelib.domain.spaces import TicketOffer
        from chalicelib.domain.tickets import PayoutAccount

        ensure_table(boto3.client("dynamodb", region_name="us-east-1"), "airwaves-bench-tickets")
        import infra.local.extensions  # noqa: F401 - registers what the local stack provisions
        from infra.local.stack import PROVISIONERS

        for step in PROVISIONERS:  # schedule groups, queues: whatever the Space lifecycle uses
            step()
        c = reset_container()
        c.users.upsert("host", handle="host", display_name="Host", follower_count=5000,
                       birthdate=datetime(1990, 1, 1).date())
        for _ in range(3):
            s = c.spaces.create("host", title="warm-up", scheduled_start=datetime.now(UTC) + timedelta(hours=1))
            c.spaces.start("host", s.id)
            c.spaces.end("host", s.id)
        c.payout_repo.add_account(PayoutAccount(user_id="host", account_id="acct_bench", created_at=datetime.now(UTC)))
        c.payout_repo.apply_account_state("host", AccountState(account_id="acct_bench", charges_enabled=True),
                                          int(time.time()))

        def ticketed(quantity: int):
            return c.spaces.create("host", title="Bench", scheduled_start=datetime.now(UTC) + timedelta(days=1),
                                   ticket=TicketOffer(1_000, "usd", quantity))

        space = ticketed(BUYERS)
        buys, bought = [], []
        for i in range(BUYERS):
            began = time.perf_counter()
            bought.append(c.tickets.buy(f"buyer{i}", space.id).ticket)
            buys.append((time.perf_counter() - began) * 1000)
        print(f"buy a ticket (hold + customer + PaymentIntent + ephemeral key): {p50_p99(buys)}")

        secret = os.environ["AIRWAVES_STRIPE_WEBHOOK_SECRET"]
        from app import app

        hooks = []
        with Client(app) as client:
            for t in bought:
                payload = json.dumps({"id": f"evt_{t.id}", "object": "event", "type": "payment_intent.succeeded",
                                      "created": int(time.time()), "data": {"object": {
                                          "id": t.payment_intent_id, "object": "payment_intent",
                                          "metadata": {"ticket_id": t.id, "space_id": t.space_id}}}}).encode()
                began = time.perf_counter()
                res = client.http.post("/v1/webhooks/stripe", body=payload, headers={
                    "Content-Type": "application/json", "Stripe-Signature": stripe_signature(payload, secret)})
                hooks.append((time.perf_counter() - began) * 1000)
                assert res.status_code == 200, res.body
        print(f"signed payment_intent.succeeded webhook -> paid: {p50_p99(hooks)}")

        from infra.local.scheduler_runner import LocalRunner

        began = time.perf_counter()
        c.spaces.cancel("host", space.id)
        answered = time.perf_counter() - began
        LocalRunner().drain()
        drained = time.perf_counter() - began - answered
        refunded = sum(1 for t in bought if c.ticket_repo.get(t.space_id, t.id).status == "refunded")
        print(f"cancel with {BUYERS} paid tickets: the request answers in {answered * 1000:.0f} ms (refunds queued); "
              f"draining the queue refunds {refunded} in {drained * 1000:.0f} ms "
              f"({drained * 1000 / BUYERS:.1f} ms per refund, one consumer)")

        contested = ticketed(20)
        winners, gate = [], threading.Barrier(100)

        def race(i: int) -> None:
            gate.wait()
            try:
                winners.append(c.tickets.buy(f"racer{i}", contested.id).ticket.id)
            except Exception:  # noqa: BLE001 - sold out
                pass

        threads = [threading.Thread(target=race, args=(i,)) for i in range(100)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"100 concurrent buyers for 20 seats: {len(winners)} sold in "
              f"{(time.perf_counter() - began) * 1000:.0f} ms")


def main() -> None:
    from infra.local.stripe_mock import binary
    from tests.processes import start_stripe_mock

    first_use()
    with tempfile.TemporaryDirectory() as workdir:
        stripe_mock = start_stripe_mock(binary(), Path(workdir))
        try:
            flows(stripe_mock.url)
        finally:
            stripe_mock.server.stop()


if __name__ == "__main__":
    main()
