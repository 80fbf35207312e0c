"""A Space's audience past one media node: WebRTC listener seats and the HLS listeners' windows.

Seats: one ``SPACE#<id>/SEAT#<user>`` item per listener holding one, and ``webrtc_seats`` on the
Space item, moved together in one transaction. A claim is conditioned on the count being under
the cap (one conditional write, so concurrent joins never overshoot) and on the seat item not
existing (a rejoin of the same user keeps their seat and takes no second one). The seat records
the LiveKit connection (sid) that holds it once the media server reports it, so a release is
exact: a ``participant_left`` of an older connection of the same user (LiveKit replaces a
connection when the same identity connects again) does not free the seat of the newer one.
``connected_at`` marks a seat whose holder the media server reported connected (or who was
demoted from the stage while connected); a seat without it after the grace period was never
used, and ``sweep_unconnected_seats`` frees it: each release is conditioned on the seat being
exactly as read (still unconnected, same ``claimed_at``), so a connection or a rejoin racing the
sweep keeps its seat, and concurrent sweeps free each seat once.

HLS windows: ``SPACE#<id>/HLS#<user>`` holds the last window that listener was counted in, and
the Space item two slots (``hls_window_<p>``/``hls_count_<p>``, p = window mod 2) of distinct
listeners per window. A fetch in a window the listener is already counted in changes nothing
(its condition fails), so each listener moves the Space item once per 30-s window.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import ConditionFailed, Table, TransactionCanceled, serialize, values
from chalicelib.domain.hls import hls_window
from chalicelib.domain.spaces import SpaceState

_TTL = timedelta(days=2)
_ATTEMPTS = 4
_RELEASE_BATCH = 24  # stale seats freed per transaction (plus the Space item: 25 items)
# Seats one sweep frees at most: it runs inside a join, which needs one. Four transactions keep
# that join's wait small; a mass of abandoned seats drains at this many per sweep interval.
SWEEP_LIMIT = 4 * _RELEASE_BATCH
_UNCONNECTED = "attribute_not_exists(sid) AND attribute_not_exists(connected_at)"


def _meta_key(space_id: str) -> dict[str, Any]:
    return keys.key(keys.space_pk(space_id), keys.META)


def _ttl(now: datetime) -> int:
    return int((now + _TTL).timestamp())


class DynamoAudience:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- WebRTC seats -----------------------------------------------------------------------------
    def claim_seat(self, space_id: str, user_id: str, *, cap: int, now: datetime) -> bool:
        """A WebRTC seat for ``user_id`` in the live Space: True if they hold one now (just claimed,
        or held already), False when the Space's seats are all taken (or it is not live)."""
        try:
            self.table.transact([
                {"Put": {"Item": serialize(self._seat(space_id, user_id, now)),
                         "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Update": {"Key": _meta_key(space_id),
                            "UpdateExpression": "SET webrtc_seats = if_not_exists(webrtc_seats, :zero) + :one",
                            "ConditionExpression": "#state = :live AND (attribute_not_exists(webrtc_seats) "
                                                   "OR webrtc_seats < :cap)",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": values({":zero": 0, ":one": 1, ":cap": cap,
                                                                 ":live": SpaceState.live.value})}},
            ])
            return True
        except TransactionCanceled as exc:
            if not exc.failed(0):
                return False  # the seats are all taken
        self._renew_claim(space_id, user_id, now)  # their seat from an earlier join
        return True

    def _renew_claim(self, space_id: str, user_id: str, now: datetime) -> None:
        """A rejoin with a seat not connected yet restarts its grace period: it was just handed
        fresh credentials, so the sweep must not free it as they connect."""
        try:
            self.table.update(keys.space_pk(space_id), keys.seat_sk(user_id), UpdateExpression="SET claimed_at = :now",
                              ConditionExpression=f"attribute_exists(PK) AND {_UNCONNECTED}",
                              ExpressionAttributeValues=values({":now": now.isoformat()}))
        except ConditionFailed:
            pass  # connected already (or released meanwhile: their connection takes one then)

    def confirm_seat(self, space_id: str, user_id: str, sid: str | None, now: datetime) -> None:
        """The media server reports ``user_id`` connected as ``sid`` (a listener), or ``sid`` is
        None for a speaker demoted while connected: their seat is now in use (never swept) and
        belongs to that connection. A listener connected without a seat (it was released by a
        ``participant_left`` that overtook this ``participant_joined``, or swept) takes one, past
        the cap if need be: the count stays the number of connected WebRTC listeners."""
        held = {"connected_at": now.isoformat(), **({"sid": sid} if sid else {})}
        update = "SET " + ", ".join(f"{name} = :{name}" for name in held)
        for _ in range(_ATTEMPTS):
            try:
                self.table.update(keys.space_pk(space_id), keys.seat_sk(user_id), UpdateExpression=update,
                                  ConditionExpression="attribute_exists(PK)",
                                  ExpressionAttributeValues=values({f":{k}": v for k, v in held.items()}))
                return
            except ConditionFailed:
                pass
            try:
                self.table.transact([
                    {"Put": {"Item": serialize({**self._seat(space_id, user_id, now), **held}),
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Update": {"Key": _meta_key(space_id),
                                "UpdateExpression": "SET webrtc_seats = if_not_exists(webrtc_seats, :zero) + :one",
                                "ExpressionAttributeValues": values({":zero": 0, ":one": 1})}},
                ])
                return
            except TransactionCanceled as exc:
                if not exc.failed(0):
                    raise
                # a join claimed it in between: record the connection on that seat

    def release_seat(self, space_id: str, user_id: str, sid: str | None) -> bool:
        """Free the seat of ``user_id`` when connection ``sid`` left: only if the seat belongs to
        that connection (or to none yet); ``sid`` None frees it whichever connection holds it
        (they went on stage: a speaker is not in the audience cap). False when there was
        nothing to free."""
        condition = "attribute_exists(PK)"
        owner: dict[str, Any] = {}
        if sid is not None:
            condition += " AND (attribute_not_exists(sid) OR sid = :sid)"
            owner["ExpressionAttributeValues"] = values({":sid": sid})
        try:
            self.table.transact([
                {"Delete": {"Key": keys.key(keys.space_pk(space_id), keys.seat_sk(user_id)),
                            "ConditionExpression": condition, **owner}},
                {"Update": {"Key": _meta_key(space_id),
                            "UpdateExpression": "SET webrtc_seats = webrtc_seats - :one",
                            "ConditionExpression": "webrtc_seats > :zero",
                            "ExpressionAttributeValues": values({":one": 1, ":zero": 0})}},
            ])
            return True
        except TransactionCanceled as exc:
            if exc.failed(0):
                return False
            # counted at zero already (should not happen): just drop the seat
            try:
                self.table.delete(keys.space_pk(space_id), keys.seat_sk(user_id), ConditionExpression=condition, **owner)
            except ConditionFailed:
                return False
            return True

    def sweep_unconnected_seats(self, space_id: str, *, claimed_before: datetime, now: datetime,
                                swept_before: datetime) -> int:
        """Free the seats claimed before ``claimed_before`` that nobody connected to, the oldest
        ``SWEEP_LIMIT`` of them; returns how many this call freed. At most one sweep per Space
        runs per interval: it first moves ``seats_swept_at`` to ``now``, only if the last sweep
        started before ``swept_before``."""
        try:
            self.table.update(keys.space_pk(space_id), keys.META, UpdateExpression="SET seats_swept_at = :now",
                              ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(seats_swept_at) "
                                                  "OR seats_swept_at < :since)",
                              ExpressionAttributeValues=values({":now": now.isoformat(),
                                                                ":since": swept_before.isoformat()}))
        except ConditionFailed:
            return 0  # another sweep ran lately
        stale: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            items, start = self.table.query(
                start_key=start, KeyConditionExpression="PK = :pk AND begins_with(SK, :seat)",
                FilterExpression=_UNCONNECTED,
                ExpressionAttributeValues=values({":pk": keys.space_pk(space_id), ":seat": keys.seat_sk("")}))
            stale += [i for i in items if datetime.fromisoformat(i["claimed_at"]) < claimed_before]
            if start is None:
                break
        stale = sorted(stale, key=lambda seat: str(seat["claimed_at"]))[:SWEEP_LIMIT]
        return sum(self._release_unconnected(space_id, stale[i:i + _RELEASE_BATCH])
                   for i in range(0, len(stale), _RELEASE_BATCH))

    def _release_unconnected(self, space_id: str, seats: list[dict[str, Any]]) -> int:
        """Free these seats and uncount them in one transaction, each only if still as read; a
        seat that changed (connected, renewed, released) drops out and the rest try again."""
        for _ in range(_ATTEMPTS):
            if not seats:
                return 0
            try:
                self.table.transact([
                    *({"Delete": {"Key": keys.key(seat["PK"], seat["SK"]),
                                  "ConditionExpression": f"{_UNCONNECTED} AND claimed_at = :claimed",
                                  "ExpressionAttributeValues": values({":claimed": seat["claimed_at"]})}}
                      for seat in seats),
                    {"Update": {"Key": _meta_key(space_id), "UpdateExpression": "SET webrtc_seats = webrtc_seats - :n",
                                "ConditionExpression": "webrtc_seats >= :n",
                                "ExpressionAttributeValues": values({":n": len(seats)})}},
                ])
                return len(seats)
            except TransactionCanceled as exc:
                kept = [seat for i, seat in enumerate(seats) if not exc.failed(i)]
                if len(kept) == len(seats):
                    return 0  # the count is below the seats (should not happen): leave them be
                seats = kept
        return 0

    def open_hls(self, space_id: str) -> bool:
        """Mark the live Space as serving HLS (the media worker reads it and cuts live HLS).
        True only for the call that turned it on."""
        try:
            self.table.update(keys.space_pk(space_id), keys.META, UpdateExpression="SET hls_live = :yes",
                              ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(hls_live) "
                                                  "OR hls_live = :no)",
                              ExpressionAttributeValues=values({":yes": True, ":no": False}))
            return True
        except ConditionFailed:
            return False

    def _seat(self, space_id: str, user_id: str, now: datetime) -> dict[str, Any]:
        return {"PK": keys.space_pk(space_id), "SK": keys.seat_sk(user_id), "user_id": user_id,
                "claimed_at": now.isoformat(), "expires_at": _ttl(now)}

    # -- HLS listeners ----------------------------------------------------------------------------
    def saw_hls_listener(self, space_id: str, user_id: str, now: datetime) -> bool:
        """Count ``user_id`` in the current window once; True if this fetch counted them. Two
        single-item writes, not a transaction: every HLS listener's first fetch of a window writes
        the Space item at once, and transactions on one item cancel each other under that load
        (a crash between the two writes misses one listener in one window: it is approximate)."""
        window = hls_window(now)
        slot = window % 2
        try:
            self.table.update(keys.space_pk(space_id), keys.hls_listener_sk(user_id),
                              UpdateExpression="SET #w = :w, expires_at = :ttl",
                              ConditionExpression="attribute_not_exists(#w) OR #w < :w",
                              ExpressionAttributeNames={"#w": "window"},
                              ExpressionAttributeValues=values({":w": window, ":ttl": _ttl(now)}))
        except ConditionFailed:
            return False  # counted in this window already
        same = {"UpdateExpression": f"SET hls_count_{slot} = hls_count_{slot} + :one",
                "ConditionExpression": f"hls_window_{slot} = :w"}
        fresh = {"UpdateExpression": f"SET hls_window_{slot} = :w, hls_count_{slot} = :one",
                 "ConditionExpression": f"attribute_exists(PK) AND (attribute_not_exists(hls_window_{slot}) "
                                        f"OR hls_window_{slot} < :w)"}
        for _ in range(_ATTEMPTS):
            for variant in (same, fresh):
                try:
                    self.table.update(keys.space_pk(space_id), keys.META, **variant,
                                      ExpressionAttributeValues=values({":w": window, ":one": 1}))
                    return True
                except ConditionFailed:
                    continue
        return False  # the slot kept moving under us: an approximate count may miss one
