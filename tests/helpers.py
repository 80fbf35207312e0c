"""Small helpers the test modules share (fixtures live in conftest.py and fixtures_*.py)."""
from __future__ import annotations

import json
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def minutes_from_now(minutes: float) -> datetime:
    """A moment ``minutes`` ahead (behind, if negative), to the second."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


def rfc3339_in(minutes: float) -> str:
    """``minutes_from_now`` as the contract writes times."""
    return minutes_from_now(minutes).isoformat()


def container() -> Any:
    """The app's container of the current test (built fresh by the ``aws`` fixture)."""
    from chalicelib.container import get_container

    return get_container()


def hosts(api: Any, prefix: str, n: int, followers: int = 1000) -> list[str]:
    """``n`` people who may host, one per live Space a test needs open at once (a host has one
    live Space at a time: ``max_live_spaces_per_host``)."""
    names = [f"{prefix}{i}" for i in range(n)]
    for name in names:
        api.make_user(name, followers)
    return names


def space_item(space_id: str) -> dict[str, Any]:
    """The Space's stored item as DynamoDB holds it (counters the API does not show)."""
    from chalicelib.adapters.dynamodb import keys

    item = container().table.get(keys.space_pk(space_id), keys.META, consistent=True)
    assert item is not None, f"no Space {space_id}"
    return dict(item)


def register_device(api: Any, pushes: Any, user: str, token: str, platform: str = "apns") -> str:
    """Register a push device through the API; returns the SNS endpoint it became."""
    res = api.call("POST", "/v1/me/devices", as_user=user, body={"platform": platform, "token": token})
    assert res.status_code == 201, res.body
    return str(next(arn for arn, e in pushes.endpoints().items() if e.token == token))


def queue_messages(queue_name: str, **receive: Any) -> list[dict[str, Any]]:
    """The JSON bodies waiting on an SQS queue (moto), read without consuming them for long."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **receive).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def dead_letters() -> list[dict[str, Any]]:
    """What the work queue gave up on."""
    from chalicelib.settings import get_settings

    return queue_messages(f"{get_settings().jobs_queue_name}-dlq")


def race(n: int, work: Callable[[int], object]) -> tuple[list[object], list[Exception], list[str]]:
    """``work(i)`` in ``n`` threads released together by a barrier, with a tiny switch interval so
    they interleave for real: (results, Airwaves errors, anything else raised as its repr and the
    innermost frames it came from, so a failing assertion shows where without a rerun)."""
    from chalicelib.domain.errors import AirwavesError

    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[Exception] = []
    other: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        try:
            out = work(i)
            with lock:
                results.append(out)
        except AirwavesError as exc:
            with lock:
                errors.append(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which asserts there is none
            with lock:
                other.append(f"{exc!r} from {where_raised(exc)}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return results, errors, other


def where_raised(exc: BaseException, frames: int = 4) -> str:
    """The innermost ``frames`` of ``exc``'s traceback, as ``file:line in function`` joined by " < "."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in reversed(stack))


TableSnapshot = dict[tuple[str, str], dict[str, Any]]


def table_snapshot() -> TableSnapshot:
    """Every item of the app's table, read consistently, keyed by (PK, SK), in DynamoDB's wire form:
    what a refusal test compares before and after to show that nothing changed."""
    table = container().table
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page = table.client.scan(TableName=table.name, ConsistentRead=True,
                                 **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return {(i["PK"]["S"], i["SK"]["S"]): i for i in items}


def table_changes(before: TableSnapshot, after: TableSnapshot | None = None) -> list[tuple[str, str]]:
    """The keys written, added or deleted between two snapshots (``after`` defaults to now)."""
    after = table_snapshot() if after is None else after
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))


def restore_table(snapshot: TableSnapshot) -> None:
    """Put the table back as ``snapshot`` read it (items added since are deleted)."""
    table = container().table
    now = table_snapshot()
    for pk, sk in set(now) - set(snapshot):
        table.client.delete_item(TableName=table.name, Key={"PK": {"S": pk}, "SK": {"S": sk}})
    for key, item in snapshot.items():
        if now.get(key) != item:
            table.client.put_item(TableName=table.name, Item=item)


# -- what the app printed: JSON log lines and EMF metric blobs -------------------------------------
def json_lines(out: str) -> list[dict[str, Any]]:
    """Every stdout line that is a JSON object (a log line or an EMF blob), in order."""
    lines = []
    for line in out.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def log_lines(out: str, message: str | None = None) -> list[dict[str, Any]]:
    """The JSON log lines (not EMF blobs), optionally only those with this ``message``."""
    return [line for line in json_lines(out) if "_aws" not in line and (message is None or line.get("message") == message)]


def emf_points(out: str) -> list[tuple[str, str, str, dict[str, str], float]]:
    """Each metric data point in the EMF blobs: (namespace, name, unit, dimensions, value)."""
    points = []
    for blob in json_lines(out):
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            names = [n for group in directive["Dimensions"] for n in group]
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                for v in value if isinstance(value, list) else [value]:
                    points.append((directive["Namespace"], metric["Name"], metric["Unit"],
                                   {n: blob[n] for n in names}, float(v)))
    return points


# Rate-limit windows count every attempt, a refused one too: that is what they are for.
COUNTED_ATTEMPTS = ("RATE#",)


def assert_unchanged(before: TableSnapshot, what: str = "") -> None:
    """The table holds what ``before`` read, apart from rate-limit windows."""
    changed = [key for key in table_changes(before) if not key[0].startswith(COUNTED_ATTEMPTS)]
    assert changed == [], f"{what} changed the table: {changed}"


def assert_refused(res: Any, status: int, code: str | None = None) -> None:
    """``res`` is a refusal: ``status`` (and ``code``) in the contract's error shape, and the
    call changed nothing in the table. ``res`` must come from an ``api`` watched by the
    ``refusals_change_nothing`` fixture, which keeps the table as each call found it."""
    assert res.status_code == status, res.body
    assert res.json["error"]["message"], res.body
    if code is not None:
        assert res.json["error"]["code"] == code, res.body
    before = getattr(res, "table_before", None)
    assert before is not None, "the call was not watched: use the refusals_change_nothing fixture"
    assert_unchanged(before, f"a {status} refusal")
