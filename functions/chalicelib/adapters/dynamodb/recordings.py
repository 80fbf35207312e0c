"""A Space's replay, clips and transcript segments in the single table.

* The replay is the ``replay`` map on the Space item (``SPACE#<id>/META``), so a Space's read
  carries it; writes are conditional on the replay's ``updated_at`` (read-modify-write, retried by
  the service), so a worker report and a host's trim never overwrite each other.
* A clip is ``CLIP#<id>/CLIP`` (``GET /v1/clips/{id}`` needs no Space id), listed per Space on
  GSI1 ``CLIPS#<space>`` and, while pending, on the sparse GSI2 ``PENDINGCLIPS#<space>`` the
  worker polls. Its ``expires_at`` (epoch seconds) is the table's TTL.
* A transcript segment is ``SPACE#<id>/SEGMENT#<segment id>``: a repeated delivery of the same
  segment overwrites itself (idempotent by ``segment_id``).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic_core import to_jsonable_python

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, serialize, values
from chalicelib.domain.errors import NotFound
from chalicelib.domain.pages import Page, PageRequest
from chalicelib.domain.recordings import Clip, ClipState, Replay, TranscriptSegment
from chalicelib.ports import StaleReplay


def _decimals(value: Any) -> Any:
    """DynamoDB numbers are Decimals (floats are refused)."""
    if isinstance(value, float):
        return Decimal(str(round(value, 3)))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def _clip_item(clip: Clip, expires_at: int | None) -> dict[str, Any]:
    item: dict[str, Any] = _decimals(clip.model_dump(mode="json"))
    item.update({"PK": keys.clip_pk(clip.id), "SK": keys.CLIP,
                 "GSI1PK": keys.space_clips_gsi1(clip.space_id),
                 "GSI1SK": f"{clip.created_at.isoformat()}#{clip.id}"})
    if clip.state is ClipState.pending:
        item.update({"GSI2PK": keys.pending_clips_gsi2(clip.space_id), "GSI2SK": item["GSI1SK"]})
    if expires_at is not None:
        item["expires_at"] = expires_at
    return item


def _clip_of(item: dict[str, Any]) -> Clip:
    return Clip.model_validate({k: v for k, v in item.items()
                                if not k.startswith(("PK", "SK", "GSI")) and k != "expires_at"})


class DynamoRecordings:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- the replay --------------------------------------------------------------------------
    def put_replay(self, space_id: str, replay: Replay, *, if_updated_at: datetime | None) -> None:
        names = {"#replay": "replay"}
        if if_updated_at is None:
            condition = "attribute_exists(PK) AND attribute_not_exists(#replay)"
            vals: dict[str, Any] = {":r": _decimals(replay.model_dump(mode="json"))}
        else:
            condition = "attribute_exists(PK) AND #replay.#updated = :prev"
            names["#updated"] = "updated_at"
            # compared as stored: the model's JSON form of the time
            vals = {":r": _decimals(replay.model_dump(mode="json")), ":prev": to_jsonable_python(if_updated_at)}
        try:
            self.table.update(keys.space_pk(space_id), keys.META, UpdateExpression="SET #replay = :r",
                              ConditionExpression=condition, ExpressionAttributeNames=names,
                              ExpressionAttributeValues=values(vals))
        except ConditionFailed as exc:
            if self.table.get(keys.space_pk(space_id), keys.META, consistent=True) is None:
                raise NotFound(f"no Space {space_id}") from exc
            raise StaleReplay(space_id) from exc

    # -- clips -------------------------------------------------------------------------------
    def create_clip(self, clip: Clip, *, expires_at: datetime) -> None:
        self.table.put(_clip_item(clip, int(expires_at.timestamp())), ConditionExpression="attribute_not_exists(PK)")

    def get_clip(self, clip_id: str) -> Clip | None:
        item = self.table.get(keys.clip_pk(clip_id), keys.CLIP)
        return _clip_of(item) if item else None

    def clips_page(self, space_id: str, page: PageRequest) -> Page[Clip]:
        items, last = self.table.query(
            index="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.space_clips_gsi1(space_id)}),
            ScanIndexForward=False, limit=page.limit, start_key=page.start)
        return Page([_clip_of(i) for i in items], last)

    def pending_clips(self, space_id: str) -> list[Clip]:
        items, _ = self.table.query(
            index="GSI2", KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues=values({":pk": keys.pending_clips_gsi2(space_id)}), limit=50)
        return [c for c in (_clip_of(i) for i in items) if c.state is ClipState.pending]

    def finish_clip(self, clip: Clip) -> bool:
        """Store the worker's outcome of a pending clip (and take it off the pending index)."""
        sets = {"state": clip.state.value, "key": clip.key, "duration_seconds": clip.duration_seconds,
                "updated_at": clip.updated_at.isoformat()}
        present = {k: v for k, v in sets.items() if v is not None}
        try:
            self.table.update(
                keys.clip_pk(clip.id), keys.CLIP,
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in present) + " REMOVE GSI2PK, GSI2SK",
                ConditionExpression="attribute_exists(PK) AND #state = :pending",
                ExpressionAttributeNames={f"#{k}": k for k in present},
                ExpressionAttributeValues=values(_decimals({**{f":{k}": v for k, v in present.items()},
                                                            ":pending": ClipState.pending.value})))
            return True
        except ConditionFailed:
            return False

    def delete_clips(self, space_id: str) -> int:
        deleted = 0
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(
                index="GSI1", KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues=values({":pk": keys.space_clips_gsi1(space_id)}),
                ProjectionExpression="PK, SK", start_key=start)
            deleted += self._delete_keys([(i["PK"], i["SK"]) for i in items])
            if start is None:
                return deleted

    # -- transcript segments -----------------------------------------------------------------
    def add_segments(self, space_id: str, segments: Sequence[TranscriptSegment], *, expires_at: datetime) -> int:
        ttl = int(expires_at.timestamp())
        requests = [{"PutRequest": {"Item": serialize(_decimals({
            "PK": keys.space_pk(space_id), "SK": keys.segment_sk(s.segment_id), "segment_id": s.segment_id,
            "speaker_id": s.speaker_id, "start_seconds": float(s.start_seconds), "end_seconds": float(s.end_seconds),
            "text": s.text, "expires_at": ttl}))}} for s in {s.segment_id: s for s in segments}.values()]
        self._batch_write(requests)
        return len(requests)

    def segments(self, space_id: str) -> list[TranscriptSegment]:
        found: list[TranscriptSegment] = []
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
                ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":p": keys.SEGMENT}),
                start_key=start)
            found += [TranscriptSegment(segment_id=i["segment_id"], speaker_id=i["speaker_id"],
                                        start_seconds=float(i["start_seconds"]), end_seconds=float(i["end_seconds"]),
                                        text=i["text"]) for i in items]
            if start is None:
                return sorted(found, key=lambda s: (s.start_seconds, s.segment_id))

    def delete_segments(self, space_id: str) -> int:
        deleted = 0
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
                ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":p": keys.SEGMENT}),
                ProjectionExpression="PK, SK", start_key=start)
            deleted += self._delete_keys([(i["PK"], i["SK"]) for i in items])
            if start is None:
                return deleted

    # -- building blocks ---------------------------------------------------------------------
    def _delete_keys(self, pairs: list[tuple[str, str]]) -> int:
        self._batch_write([{"DeleteRequest": {"Key": keys.key(pk, sk)}} for pk, sk in pairs])
        return len(pairs)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table.name: requests[start:start + 25]}
            while pending:
                out = self.table.call("batch_write_item", RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}
