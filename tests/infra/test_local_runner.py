"""The local stand-in for Scheduler and the SQS poller: registered with ``make up``, and its loop
really fires due schedules and drains the queue into the app's handlers."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from tests.processes import wait_until


def test_the_runner_registers_with_the_local_stack():
    import infra.local.extensions  # noqa: F401
    from infra.local import scheduler_runner
    from infra.local.stack import LOOPS, PROVISIONERS

    assert scheduler_runner.provision in PROVISIONERS
    assert scheduler_runner.run_loop in LOOPS


def test_every_schedule_target_and_the_queue_have_a_handler(aws, runner):
    from chalicelib.settings import get_settings

    s = get_settings()
    for arn in (s.space_reminder_function_arn, s.space_start_function_arn, s.space_no_show_function_arn):
        assert callable(runner.function_for(arn))
    assert callable(runner.queue_handler(s.jobs_queue_name))




def test_the_loop_fires_due_schedules_and_drains_the_queue(api, runner, pushes):
    api.make_user("host", 1000)
    api.make_user("fan", 0)
    api.call("PUT", "/v1/me/following/host", as_user="fan")
    api.call("POST", "/v1/me/devices", as_user="host", body={"platform": "apns", "token": "ab" * 32})
    (arn,) = pushes.endpoints()
    start = datetime.now(UTC) + timedelta(seconds=2)
    api.call("POST", "/v1/spaces", as_user="host", body={"title": "Soon", "scheduled_start": start.isoformat()})
    live = api.call("POST", "/v1/spaces", as_user="host", body={"title": "Now"}).json["id"]

    stop = threading.Event()
    loop = threading.Thread(target=runner.run, args=(stop, 0.2), daemon=True)
    loop.start()
    try:
        feed = lambda: api.call("GET", "/v1/spaces?state=live&following=true", as_user="fan").json["items"]  # noqa: E731
        assert wait_until(lambda: [s["id"] for s in feed()] == [live], 20), "the queue was drained"
        assert wait_until(lambda: pushes.titles_to(arn) == ["Time to go live"], 20), "the start schedule fired"
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
