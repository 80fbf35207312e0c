"""The worker's log lines are JSON objects carrying the job's Space, job, dispatch and room, also
when the line comes from a job process through livekit-agents' log pipe to the main process; its
metrics are EMF in those lines (a failure counted by the line that logs it, durations at any level)."""
from __future__ import annotations

import io
import json
import logging
import socket
import sys
import time

from livekit.agents.ipc.log_queue import LogQueueHandler, LogQueueListener
from livekit.agents.utils.aio import duplex_unix

from airwaves_media.logs import (
    JOB_FIELDS,
    NAMESPACE,
    SERVICE,
    JsonLines,
    Metric,
    configure,
    failure,
    job_fields,
    measured,
)
from tests.helpers import emf_points

FIELDS = job_fields("sp_1", "AJ_job1", "AD_dispatch1", "sp_1")


class AddFields(logging.Filter):
    """What livekit-agents' job context filter does with ``log_context_fields``."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in FIELDS.items():
            setattr(record, key, value)
        return True


def printed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def json_handler() -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    return handler, out


def test_a_line_is_one_json_object_with_the_job_and_any_extra():
    handler, out = json_handler()
    log = logging.getLogger("airwaves_media.test_plain")
    log.propagate, log.handlers = False, [handler]
    log.addFilter(AddFields())
    log.warning("segment %d of %s is missing", 7, "sp_1", extra={"key": "spaces/sp_1/hls/7.ts"})
    (line,) = printed(out)
    assert line["message"] == "segment 7 of sp_1 is missing"
    assert (line["level"], line["service"], line["logger"]) == ("WARNING", SERVICE, "airwaves_media.test_plain")
    assert {k: line[k] for k in JOB_FIELDS} == FIELDS and line["key"] == "spaces/sp_1/hls/7.ts"
    assert line["timestamp"].endswith("+00:00") and "exception" not in line


def test_a_job_process_line_crosses_the_sdk_pipe_with_its_fields_and_one_traceback():
    """The job process's root handler pickles each record to the main process (the SDK's log
    queue), which hands it to the main process's handlers: here, the JSON formatter."""
    handler, out = json_handler()
    main = logging.getLogger("airwaves_media.test_job")
    main.propagate, main.handlers = False, [handler]
    child_end, main_end = socket.socketpair()
    listener = LogQueueListener(duplex_unix._Duplex.open(main_end), lambda record: None)
    listener.start()
    pipe = LogQueueHandler(duplex_unix._Duplex.open(child_end))
    pipe.addFilter(AddFields())
    record_of_child = logging.LogRecord("airwaves_media.test_job", logging.ERROR, __file__, 1,
                                        "clip %s failed", ("cl_1",), None)
    try:
        raise RuntimeError("the encoder stopped")
    except RuntimeError:
        record_of_child.exc_info = sys.exc_info()
    pipe.handle(record_of_child)
    pipe.close()
    pipe.thread.join(5)
    deadline = time.monotonic() + 5
    while not out.getvalue() and time.monotonic() < deadline:  # the listener's thread reads it
        time.sleep(0.01)
    listener.stop()
    (line,) = printed(out)
    assert line["message"] == "clip cl_1 failed"
    assert {k: line[k] for k in JOB_FIELDS} == FIELDS
    assert line["exception"].count("RuntimeError: the encoder stopped") == 1


def test_a_failure_is_counted_by_the_line_that_logs_it():
    """One line: the message, the traceback, the job's fields, the failure's kind, and one EMF data
    point of MediaWorkerFailures without dimensions (the metric the API's filter also counts into)."""
    handler, out = json_handler()
    log = logging.getLogger("airwaves_media.test_failure")
    log.propagate, log.handlers = False, [handler]
    log.addFilter(AddFields())
    try:
        raise OSError("S3 answered 503")
    except OSError:
        log.exception("live HLS upload of %s failed", "sp_1", extra=failure("live_upload"))
    (line,) = printed(out)
    assert line["failure"] == "live_upload" and "OSError: S3 answered 503" in line["exception"]
    assert {k: line[k] for k in JOB_FIELDS} == FIELDS
    assert emf_points(out.getvalue()) == [(NAMESPACE, Metric.failures.value, "Count", {}, 1.0)]


def test_durations_are_printed_whatever_the_worker_s_log_level(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("WARNING")
        logging.getLogger("airwaves_media.session").info("not printed at WARNING")
        measured(Metric.caption_latency, 0.8123, final=True)
        measured(Metric.hls_upload_lag, -0.1, segment=3)  # a clock a hair ahead is no lag
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    out = capsys.readouterr().out
    assert [(p[1], p[2], p[4]) for p in emf_points(out)] == [
        (Metric.caption_latency.value, "Seconds", 0.812), (Metric.hls_upload_lag.value, "Seconds", 0.0)]
    assert "not printed" not in out
    assert [line.get("final", line.get("segment")) for line in map(json.loads, out.splitlines())] == [True, 3]
