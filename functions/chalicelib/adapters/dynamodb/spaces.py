"""Spaces in the single table.

``SPACE#<id>/META`` holds the Space; co-host and speaker ids are string sets so caps hold under
concurrent changes (``size()`` in the condition). Lists come from GSI2, a sparse index that only
holds live and scheduled Spaces: ``LIST#<state>`` and, through one ``SPACE#<id>/TOPIC#<t>`` item
per topic, ``LIST#<state>#TOPIC#<t>``, sorted by ``<start time>#<id>``. GSI1 lists a host's
Spaces (``HOST#<id>``). No request path scans.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.errors import Conflict, InvalidState, NotFound
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.spaces import MAX_UPCOMING_PER_HOST, Space, SpaceState
from chalicelib.domain.users import HOSTED_STARTS_KEPT

LISTED_STATES = (SpaceState.live, SpaceState.scheduled)
_SET_FIELDS = ("cohost_ids", "speaker_ids")


def _meta(space_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.META)


def list_key(state: SpaceState, topic: str | None = None) -> str:
    return keys.space_list_gsi2(state.value, topic)


def sort_key(space: Space) -> str:
    return f"{space.sort_time.isoformat()}#{space.id}"


def space_to_item(space: Space) -> dict[str, Any]:
    item = space.model_dump(mode="json", exclude={"hls_windows"})
    for name in _SET_FIELDS:
        item[name] = set(item[name]) or None
    item.update({"PK": keys.space_pk(space.id), "SK": keys.META,
                 "GSI1PK": keys.host_spaces_gsi1(space.host_id), "GSI1SK": f"{space.created_at.isoformat()}#{space.id}"})
    if space.state in LISTED_STATES:
        item.update({"GSI2PK": list_key(space.state), "GSI2SK": sort_key(space)})
    return item


def space_from_item(item: dict[str, Any]) -> Space:
    data = {k: v for k, v in item.items() if not k.startswith(("PK", "SK", "GSI"))}
    for name in _SET_FIELDS:
        data[name] = sorted(data.get(name) or [])
    data["hls_windows"] = {int(data[f"hls_window_{p}"]): int(data.get(f"hls_count_{p}") or 0)
                           for p in (0, 1) if data.get(f"hls_window_{p}") is not None}
    return Space.model_validate(data)


def _topic_item(space: Space, topic: str) -> dict[str, Any]:
    item = {"PK": keys.space_pk(space.id), "SK": keys.topic_sk(topic), "space_id": space.id, "topic": topic}
    if space.state in LISTED_STATES:
        item.update({"GSI2PK": list_key(space.state, topic), "GSI2SK": sort_key(space)})
    return item


class DynamoSpaces:
    def __init__(self, table: Table, *, max_live_per_host: int = 1) -> None:
        self.table = table
        self.max_live_per_host = max_live_per_host

    def get(self, space_id: str, *, consistent: bool = False) -> Space | None:
        item = self.table.get(keys.space_pk(space_id), keys.META, consistent=consistent)
        return space_from_item(item) if item else None

    def require(self, space_id: str, *, consistent: bool = False) -> Space:
        space = self.get(space_id, consistent=consistent)
        if space is None:
            raise NotFound(f"no Space {space_id}")
        return space

    def get_many(self, space_ids: Sequence[str]) -> list[Space]:
        return [space_from_item(i) for i in self.table.batch_get((keys.space_pk(s), keys.META) for s in space_ids)]

    def create(self, space: Space) -> None:
        """Write the Space and its topic entries; a scheduled one also takes one of the host's
        upcoming slots, in the same transaction, so the cap holds under concurrency."""
        writes: list[dict[str, Any]] = [
            {"Put": {"Item": serialize(space_to_item(space)), "ConditionExpression": "attribute_not_exists(PK)"}}
        ]
        writes += [{"Put": {"Item": serialize(_topic_item(space, t))}} for t in space.topics]
        if space.state is SpaceState.scheduled:
            writes.append(self._upcoming_change(space.host_id, +1))
        elif space.state is SpaceState.live and space.started_at:
            writes.append(self._went_live(space))  # live at once: a live slot, and it counts as hosted
        try:
            self.table.transact(writes)
        except TransactionCanceled as exc:
            if exc.failed(len(writes) - 1) and space.state is SpaceState.scheduled:
                raise Conflict(
                    f"a host may have at most {MAX_UPCOMING_PER_HOST} upcoming scheduled Spaces",
                    code="invalid_state", details={"limit": MAX_UPCOMING_PER_HOST},
                ) from exc
            if exc.failed(len(writes) - 1) and space.state is SpaceState.live:
                raise self._live_limit() from exc
            raise
        if space.state is SpaceState.live:
            self._trim_hosted_starts(space.host_id)

    def save_details(self, before: Space, after: Space) -> None:
        """Persist an edit (title, topics, start; recording, captions, clips, language), only while the Space
        is still in the state it was read in."""
        sets = {"title": after.title, "topics": after.topics, "updated_at": after.updated_at.isoformat(),
                "recording": after.recording, "captions": after.captions, "clips_enabled": after.clips_enabled,
                "language": after.language,
                "scheduled_start": after.scheduled_start.isoformat() if after.scheduled_start else None,
                "GSI2SK": sort_key(after)}
        writes = [self._update_meta(after.id, before.state, sets)]
        writes += [{"Delete": {"Key": keys.key(keys.space_pk(after.id), keys.topic_sk(t))}}
                   for t in before.topics if t not in after.topics]
        writes += [{"Put": {"Item": serialize(_topic_item(after, t))}} for t in after.topics]
        self._run(writes, after.id)

    def transition(self, before: Space, after: Space) -> None:
        """Move a Space to ``after.state`` only if it is still in ``before.state``; topic entries
        and the host's upcoming count move with it."""
        sets: dict[str, Any] = {
            "state": after.state.value, "updated_at": after.updated_at.isoformat(),
            "started_at": after.started_at.isoformat() if after.started_at else None,
            "ended_at": after.ended_at.isoformat() if after.ended_at else None,
        }
        listed = after.state in LISTED_STATES
        if listed:
            sets.update({"GSI2PK": list_key(after.state), "GSI2SK": sort_key(after)})
        writes = [self._update_meta(after.id, before.state, sets, remove=() if listed else ("GSI2PK", "GSI2SK"))]
        for topic in after.topics:
            writes.append({"Put": {"Item": serialize(_topic_item(after, topic))}})
        host_update = self._host_counters(before, after)
        if host_update:
            writes.append(host_update)
        try:
            self._run(writes, after.id)
        except TransactionCanceled as exc:
            if host_update and after.state is SpaceState.live and exc.failed(len(writes) - 1):
                raise self._live_limit() from exc
            raise
        if after.state is SpaceState.live:
            self._trim_hosted_starts(after.host_id)

    def list_page(self, state: SpaceState, topic: str | None, page: PageRequest) -> Page[Space]:
        """A page of live (newest first) or scheduled (soonest first) Spaces, optionally by topic.

        The index is updated in the same transaction as the Space, but a Query of it is eventually
        consistent: an item read there may name a Space that has just moved on. Those are dropped
        and the page is filled from further down the index, so a page is short only at the end."""
        found: list[Space] = []
        start = page.start
        while True:
            items, last = self.table.query(
                index="GSI2", KeyConditionExpression="GSI2PK = :pk",
                ExpressionAttributeValues=values({":pk": list_key(state, topic)}),
                ScanIndexForward=state is SpaceState.scheduled, limit=page.limit - len(found), start_key=start,
            )
            spaces = self.get_many([i["space_id"] for i in items]) if topic else [space_from_item(i) for i in items]
            found += [s for s in spaces if s.state is state]
            if last is None or len(found) >= page.limit:
                return Page(found, last)
            start = last

    # -- building blocks ---------------------------------------------------------------------
    def _update_meta(self, space_id: str, expected: SpaceState, sets: dict[str, Any],
                     remove: tuple[str, ...] = ()) -> dict[str, Any]:
        present = {k: v for k, v in sets.items() if v is not None}
        absent = [k for k, v in sets.items() if v is None] + list(remove)
        names = {f"#{k}": k for k in list(present) + absent}
        names["#state_now"] = "state"
        expr = "SET " + ", ".join(f"#{k} = :{k}" for k in present)
        if absent:
            expr += " REMOVE " + ", ".join(f"#{k}" for k in absent)
        vals = {f":{k}": v for k, v in present.items()}
        vals[":expected"] = expected.value
        return {"Update": {
            "Key": _meta(space_id), "UpdateExpression": expr,
            "ConditionExpression": "attribute_exists(PK) AND #state_now = :expected",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values(vals),
        }}

    def _upcoming_change(self, host_id: str, delta: int) -> dict[str, Any]:
        update: dict[str, Any] = {
            "Key": keys.key(keys.user_pk(host_id), keys.PROFILE),
            "UpdateExpression": "ADD upcoming_count :d",
            "ExpressionAttributeValues": values({":d": delta}),
        }
        if delta > 0:
            update["ConditionExpression"] = "attribute_not_exists(upcoming_count) OR upcoming_count < :max"
            update["ExpressionAttributeValues"] = values({":d": delta, ":max": MAX_UPCOMING_PER_HOST})
        return {"Update": update}

    def _host_counters(self, before: Space, after: Space) -> dict[str, Any] | None:
        """The host profile's share of a transition: an upcoming slot freed when a Space leaves
        ``scheduled``, and the start recorded (ticketed eligibility counts recent Spaces)."""
        if after.state is SpaceState.live and after.started_at:
            return self._went_live(after, from_scheduled=before.state is SpaceState.scheduled)
        adds: list[str] = []
        if before.state is SpaceState.scheduled:
            adds.append("upcoming_count :minus")
        if before.state is SpaceState.live:
            adds.append("live_count :minus")
        if not adds:
            return None
        return {"Update": {
            "Key": keys.key(keys.user_pk(after.host_id), keys.PROFILE),
            "UpdateExpression": "ADD " + ", ".join(adds), "ExpressionAttributeValues": values({":minus": -1}),
        }}

    def _went_live(self, space: Space, *, from_scheduled: bool = False) -> dict[str, Any]:
        """The host profile's share of a Space going live: one of the host's live slots (refused
        past ``max_live_per_host``, in the same transaction, so concurrent starts cannot exceed
        it), the start recorded for eligibility, and an upcoming slot freed if it was scheduled."""
        assert space.started_at is not None
        adds = ["live_count :one"] + (["upcoming_count :minus"] if from_scheduled else [])
        vals: dict[str, Any] = {":empty": [], ":now": [space.started_at.isoformat()], ":one": 1,
                                ":max": self.max_live_per_host}
        if from_scheduled:
            vals[":minus"] = -1
        return {"Update": {
            "Key": keys.key(keys.user_pk(space.host_id), keys.PROFILE),
            "UpdateExpression": "SET hosted_starts = list_append(if_not_exists(hosted_starts, :empty), :now)"
                                " ADD " + ", ".join(adds),
            "ConditionExpression": "attribute_not_exists(live_count) OR live_count < :max",
            "ExpressionAttributeValues": values(vals),
        }}

    def _live_limit(self) -> Conflict:
        return Conflict(f"a host may have at most {self.max_live_per_host} live Space(s) at a time",
                        code="invalid_state", details={"reason": "live_limit", "limit": self.max_live_per_host})

    def _trim_hosted_starts(self, host_id: str) -> None:
        """Keep only the newest ``HOSTED_STARTS_KEPT`` starts on the profile. The removal is
        conditional on the length read, so a concurrent append is never lost (a failed trim is
        left to the next start)."""
        item = self.table.get(keys.user_pk(host_id), keys.PROFILE, consistent=True)
        starts = (item or {}).get("hosted_starts") or []
        excess = len(starts) - HOSTED_STARTS_KEPT
        if excess <= 0:
            return
        try:
            self.table.update(
                keys.user_pk(host_id), keys.PROFILE,
                UpdateExpression="REMOVE " + ", ".join(f"hosted_starts[{i}]" for i in range(excess)),
                ConditionExpression="size(hosted_starts) = :n",
                ExpressionAttributeValues=values({":n": len(starts)}))
        except ConditionFailed:
            return

    def _run(self, writes: list[dict[str, Any]], space_id: str) -> None:
        try:
            self.table.transact(writes)
        except TransactionCanceled as exc:
            if exc.failed(0):
                current = self.require(space_id, consistent=True)
                raise InvalidState(
                    f"the Space is {current.state.value}; it changed while this request ran",
                    details={"state": current.state.value},
                ) from exc
            raise
