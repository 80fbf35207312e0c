"""Going live fans out through SQS off the request path, a bounded page per message; failures
are retried and end in the dead-letter queue; big accounts are merged at read time instead."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.dynamodb import keys
from tests.helpers import dead_letters, register_device


@pytest.fixture
def c(aws):
    from chalicelib.container import get_container

    return get_container()


def follow_many(c, followee: str, followers: list[str]) -> None:
    now = datetime.now(UTC)
    for f in followers:
        c.users.upsert(f, handle=f.replace("-", "_"), display_name=f)
        c.user_repo.follow(f, followee, now)


def feed_items(c, user: str) -> list[dict]:
    items, _ = c.table.query(KeyConditionExpression="PK = :pk",
                             ExpressionAttributeValues={":pk": {"S": keys.feed_pk(user)}})
    return items


def queue_depth(name: str) -> int:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attrs["Attributes"].values())


def test_going_live_costs_the_request_one_message_and_the_queue_does_the_rest(api, c, runner, pushes):
    api.make_user("host", 1000, display_name="Hosty")
    followers = [f"f{i:03d}" for i in range(250)]
    follow_many(c, "host", followers)
    arns = {f: register_device(api, pushes, f, f"{n:02x}" * 32) for n, f in enumerate(["f000", "f120", "f249"])}

    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Big news"}).json["id"]
    assert queue_depth("airwaves-jobs") == 1, "the request only enqueues"
    assert feed_items(c, "f000") == [] and all(pushes.to(a) == [] for a in arns.values())

    handled = runner.drain()
    assert handled == 1 + 3, "went_live, then 3 pages of at most 100 followers"
    assert all(len(feed_items(c, f)) == 1 for f in followers)
    assert feed_items(c, "f000")[0]["via"] == ["host"]
    for arn in arns.values():
        assert pushes.titles_to(arn) == ["Hosty is live"]
        assert pushes.data_to(arn) == [{"type": "space_live", "space_id": sid}]


def test_ending_removes_the_fanned_out_entries(api, c, runner):
    api.make_user("host", 1000)
    follow_many(c, "host", [f"f{i}" for i in range(30)])
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Short"}).json["id"]
    runner.drain()
    assert len(feed_items(c, "f7")) == 1
    api.call("POST", f"/v1/spaces/{sid}/end", as_user="host")
    runner.drain()
    assert all(feed_items(c, f"f{i}") == [] for i in range(30))


def test_a_space_that_ends_mid_fan_out_stops_reaching_people(api, c, runner, pushes):
    api.make_user("host", 1000)
    follow_many(c, "host", [f"f{i:03d}" for i in range(150)])
    arns = [register_device(api, pushes, f, f"{n:02x}" * 32) for n, f in enumerate(["f000", "f149"])]
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Blink"}).json["id"]
    runner.drain(max_batches=1)  # went_live: queues the first page
    c.spaces.end("host", sid)
    runner.drain()
    assert all(pushes.to(arn) == [] for arn in arns), "nobody is called to a Space that has ended"
    assert sum(len(feed_items(c, f"f{i:03d}")) for i in range(150)) == 0


def test_promoted_speakers_and_cohosts_reach_their_followers(api, c, runner):
    for u in ("host", "cohost", "speaker"):
        api.make_user(u, 1000)
    follow_many(c, "cohost", ["cf1", "cf2"])
    follow_many(c, "speaker", ["sf1"])
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Panel"}).json["id"]
    assert api.call("PUT", f"/v1/spaces/{sid}/cohosts/cohost", as_user="host").status_code == 200
    assert api.call("PUT", f"/v1/spaces/{sid}/speakers/speaker", as_user="host").status_code == 200
    runner.drain()
    assert [i["via"] for i in feed_items(c, "cf1")] == [["cohost"]]
    assert [i["via"] for i in feed_items(c, "sf1")] == [["speaker"]]


def test_failing_messages_are_retried_then_dead_lettered_while_the_rest_of_the_batch_succeeds(
        api, c, runner, monkeypatch):
    from chalicelib.services.notifications import Notifier

    api.make_user("doomed-host", 1000)
    api.make_user("fine-host", 1000)
    follow_many(c, "doomed-host", ["victim"])
    follow_many(c, "fine-host", ["lucky"])
    real_deliver = Notifier.deliver

    def flaky(self, user_ids, message):
        if "victim" in user_ids:
            raise RuntimeError("push service throttled")
        return real_deliver(self, user_ids, message)

    monkeypatch.setattr(Notifier, "deliver", flaky)
    api.call("POST", "/v1/spaces", as_user="doomed-host", body={"title": "A"})
    api.call("POST", "/v1/spaces", as_user="fine-host", body={"title": "B"})
    runner.drain(visibility_timeout=0)
    assert len(feed_items(c, "lucky")) == 1
    assert queue_depth("airwaves-jobs") == 0
    dead = dead_letters()
    assert [(d["kind"], d["user_id"]) for d in dead] == [("followers", "doomed-host")]


def test_a_batch_deletes_its_successes_and_raises_for_its_failures():
    from chalicelib.adapters.telemetry import EmfMetrics, PowertoolsEventLog
    from chalicelib.domain.jobs import Ended, job_body
    from chalicelib.services.background_jobs import BatchIncomplete, JobBatch, QueueMessage

    class Jobs:
        def run(self, job):
            if job.space_id == "bad":
                raise ValueError(job)

    class Queue:
        def __init__(self):
            self.deleted: list[str] = []

        def delete(self, handles):
            self.deleted += handles

    def message(space_id: str, receipt: str) -> QueueMessage:
        return QueueMessage(job_body(Ended(space_id=space_id)), receipt)

    queue = Queue()
    metrics = EmfMetrics()
    batch = JobBatch(Jobs(), queue, metrics=metrics, events=PowertoolsEventLog(metrics))  # type: ignore[arg-type]
    assert batch.handle([message("ok", "r1"), message("ok", "r2")]) == 2 and queue.deleted == []
    with pytest.raises(BatchIncomplete):
        batch.handle([message("ok", "r1"), message("bad", "r2"), QueueMessage("not json", "r4"), message("ok", "r3")])
    assert queue.deleted == ["r1", "r3"]


def test_malformed_messages_end_in_the_dead_letter_queue(aws, runner):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName="airwaves-jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "nonsense"}))
    assert runner.drain(visibility_timeout=0) == 0
    assert dead_letters() == [{"kind": "nonsense"}]


def test_big_hosts_are_merged_at_read_time_not_fanned_out(api, c, runner):
    api.make_user("star", 50_000, display_name="Star")
    follow_many(c, "star", ["fan1", "fan2"])
    first = api.call("POST", "/v1/spaces", as_user="star", body={"title": "One"}).json["id"]
    runner.drain()
    assert c.big_accounts.modes(["star"]) == {"star": "big"}, "promoted once its followers were told"
    assert c.big_accounts.followed_by("fan1") == {"star"}
    api.call("POST", f"/v1/spaces/{first}/end", as_user="star")
    runner.drain()

    second = api.call("POST", "/v1/spaces", as_user="star", body={"title": "Two"}).json["id"]
    runner.drain()
    assert feed_items(c, "fan2") == [], "no per-follower writes for a big account"
    feed = api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan2").json
    assert [s["id"] for s in feed["items"]] == [second]

    # Following a big account later joins the merge; unfollowing leaves it at once.
    api.make_user("newcomer", 0)
    assert api.call("PUT", "/v1/me/following/star", as_user="newcomer").status_code == 200
    assert [s["id"] for s in api.call("GET", "/v1/spaces?state=live&following=true",
                                      as_user="newcomer").json["items"]] == [second]
    api.call("DELETE", "/v1/me/following/star", as_user="fan2")
    assert api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan2").json["items"] == []
    api.call("POST", f"/v1/spaces/{second}/end", as_user="star")
    runner.drain()
    assert c.big_accounts.live_keys_of(["star"]) == []
    assert api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan1").json["items"] == []


def test_going_live_tells_reminder_holders_of_a_scheduled_space(api, c, runner, pushes):
    api.make_user("host", 1000, display_name="Hosty")
    arn = register_device(api, pushes, "holder", "ab" * 32)
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sid = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Early", "scheduled_start": start}).json["id"]
    api.call("PUT", f"/v1/spaces/{sid}/reminder", as_user="holder")
    api.call("POST", f"/v1/spaces/{sid}/start", as_user="host")
    runner.drain()
    assert pushes.titles_to(arn) == ["Hosty is live"]


def test_a_follower_gets_at_most_the_hourly_cap_of_is_live_pushes_from_one_host(api, c, runner, pushes):
    from chalicelib.settings import get_settings

    cap = get_settings().live_pushes_per_host_per_hour
    api.make_user("flapper", 1000, display_name="Flap")
    api.make_user("other-host", 1000, display_name="Other")
    follow_many(c, "flapper", ["fan"])
    follow_many(c, "other-host", ["fan"])
    arn = register_device(api, pushes, "fan", "ab" * 32)
    for i in range(cap + 3):  # go live, end, go live again... (one live Space at a time)
        sid = api.call("POST", "/v1/spaces", as_user="flapper", body={"title": f"again {i}"}).json["id"]
        runner.drain()
        assert api.call("POST", f"/v1/spaces/{sid}/end", as_user="flapper").status_code == 200
    assert pushes.titles_to(arn) == ["Flap is live"] * cap
    api.call("POST", "/v1/spaces", as_user="other-host", body={"title": "mine"})
    runner.drain()
    assert pushes.titles_to(arn)[-1] == "Other is live", "the cap is per host"
