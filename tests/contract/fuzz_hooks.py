"""Schemathesis hooks of the contract run (loaded through ``SCHEMATHESIS_HOOKS``).

Some request values are valid or not by what no schema can state: a list ``cursor`` (only one
this same list issued verifies), a ``scheduled_start`` (must lie in the future, by the server's
clock), a Space's ``language`` (must be registered in the IANA subtag registry) and
``following=true`` (only with ``state=live``: OpenAPI cannot tie one query parameter to another).
In cases Schemathesis generated as schema-valid, those values come from here instead: no cursor
(the first page), a start a day ahead, a registered tag, ``state=live``. Cases generated to violate
the schema keep theirs, so the server's rejection of bad values is still checked; every check stays on.
Schema-valid cases also get a fresh ``Idempotency-Key``: generated keys repeat (``"0"``), and a
repeated key rightly answers the first result, which a later step may have deleted since.

``after_call`` counts the requests sent into ``AIRWAVES_FUZZ_COUNT`` (read by the test).
"""
from __future__ import annotations

import atexit
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis

LANGUAGES = ("en", "en-US", "pt-BR", "zh-Hant", "de")
_requests = 0


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if not _positive(case):
        return
    if isinstance(case.headers, dict) and "Idempotency-Key" in case.headers:
        case.headers = {**case.headers, "Idempotency-Key": uuid.uuid4().hex}
    if isinstance(case.query, dict):
        query = {k: v for k, v in case.query.items() if k != "cursor"}
        if query.get("following") in (True, "true"):
            query["state"] = "live"
        if query != case.query:
            case.query = query
    if isinstance(case.body, dict):
        body = dict(case.body)
        if isinstance(body.get("scheduled_start"), str):
            body["scheduled_start"] = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
        if isinstance(body.get("language"), str):
            body["language"] = LANGUAGES[len(body["language"]) % len(LANGUAGES)]
        if body != case.body:
            case.body = body


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    global _requests
    _requests += 1


@atexit.register
def _write_count() -> None:
    target = os.environ.get("AIRWAVES_FUZZ_COUNT")
    if target:
        Path(target).write_text(str(_requests))
