"""SQS and EventBridge Scheduler deliver at least once and in no particular order: every message
and every invocation delivered twice, and out of order, changes nothing twice.

| fault                                              | stored / sent afterwards                  |
|----------------------------------------------------|-------------------------------------------|
| every queue message delivered twice (reversed,     | one feed entry per follower, one "is      |
| then redelivered in order)                         | live" push per device                     |
| the start schedule invoked twice                   | one "Time to go live" push; one "Starting |
|                                                    | now" per reminder holder                  |
| no-show fired, then a late start and reminder      | canceled once; no start or reminder push; |
|                                                    | one "Space canceled" per reminder holder  |
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.adapters.dynamodb import keys
from tests.helpers import container, minutes_from_now, register_device


def drain_twice_reversed(runner) -> int:
    """Drain the work queue like an unlucky SQS: each batch handed over reversed, then again in
    order (a redelivery after the visibility timeout). Each copy of a page enqueues its next page,
    so copies multiply along a fan-out (harmless: what they send is deduplicated)."""
    from chalicelib.settings import get_settings

    s = get_settings()
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=s.jobs_queue_name)["QueueUrl"]
    handler = runner.queue_handler(s.jobs_queue_name)
    delivered = 0
    for _ in range(200):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return delivered
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + s.jobs_queue_name,
                    "awsRegion": "us-east-1"} for m in messages]
        handler({"Records": records[::-1]}, None)
        handler({"Records": records}, None)
        delivered += len(messages)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for n, m in enumerate(messages)])
    raise AssertionError("the queue never emptied")


def feed_entries(user: str) -> list[dict[str, Any]]:
    items, _ = container().table.query(KeyConditionExpression="PK = :pk",
                                       ExpressionAttributeValues={":pk": {"S": keys.feed_pk(user)}})
    return items


def invoke(runner, kind: str, schedule: dict) -> dict:
    target = schedule["Target"]
    return runner.function_for(target["Arn"])(json.loads(target["Input"]), None)


def test_go_live_fan_out_delivered_twice_and_reversed_reaches_everyone_once(api, runner, pushes, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("AIRWAVES_FANOUT_PAGE_SIZE", "5")
    reset_container()
    api.make_user("host", 1000, display_name="Hosty")
    followers = [f"f{i:03d}" for i in range(12)]
    now = datetime.now(UTC)
    c = container()
    for f in followers:
        c.users.upsert(f, handle=f, display_name=f)
        c.user_repo.follow(f, "host", now)
    arns = [register_device(api, pushes, f, f"{n:02x}" * 32) for n, f in enumerate(["f000", "f005", "f011"])]
    assert api.call("POST", "/v1/spaces", as_user="host", body={"title": "Big news"}).status_code == 201

    assert drain_twice_reversed(runner) >= 4  # went_live, then three pages of followers
    assert all(len(feed_entries(f)) == 1 for f in followers)
    assert all(pushes.titles_to(arn) == ["Hosty is live"] for arn in arns)


def test_the_start_schedule_invoked_twice_pushes_once(api, runner, pushes, schedules):
    api.make_user("host", 1000, display_name="Hosty")
    host_arn = register_device(api, pushes, "host", "ab" * 32)
    fans = {f"fan{i}": register_device(api, pushes, f"fan{i}", f"{i + 10:02x}" * 32) for i in range(3)}
    start = minutes_from_now(120).isoformat()
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Planned", "scheduled_start": start}).json["id"]
    for fan in fans:
        assert api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user=fan).status_code == 200
    planned = schedules.of(sid)
    invoke(runner, "start", planned["start"])
    invoke(runner, "start", planned["start"])
    drain_twice_reversed(runner)
    assert pushes.titles_to(host_arn) == ["Time to go live"]
    assert all(pushes.titles_to(arn) == ["Starting now"] for arn in fans.values())


def test_a_no_show_then_a_late_start_and_reminder_cancel_once_and_push_nothing_else(api, runner, pushes, schedules):
    api.make_user("host", 1000, display_name="Hosty")
    host_arn = register_device(api, pushes, "host", "ab" * 32)
    fan_arn = register_device(api, pushes, "fan", "cd" * 32)
    start = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Planned", "scheduled_start": start}).json["id"]
    assert api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user="fan").status_code == 200
    planned = schedules.of(sid)
    invoke(runner, "no_show", planned["no_show"])
    invoke(runner, "start", planned["start"])
    invoke(runner, "reminder", planned["reminder"])
    invoke(runner, "no_show", planned["no_show"])
    drain_twice_reversed(runner)
    space = api.call("GET", f"/v1/spaces/{sid}", as_user="fan").json
    assert space["state"] == "canceled"
    assert pushes.titles_to(host_arn) == []
    assert pushes.titles_to(fan_arn) == ["Space canceled"]
