"""A Space's audience past one media node: WebRTC listener seats and the HLS listeners' windows.

Seats: one ``SPACE#<id>/SEAT#<user>`` item per listener holding one, and ``webrtc_seats`` on the
Space item, moved together in one transaction. A claim is conditioned on the count being under
the cap (one conditional write, so concurrent joins never overshoot) and on the seat item not
existing (a rejoin of the same user keeps their seat and takes no second one). The seat records
the LiveKit connection (sid) that holds it once the media server reports it, so a release is
exact: a ``participant_left`` of an older connection of the same user (LiveKit replaces a
connection when the same identity connects again) does not free the seat of the newer one.

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
            return exc.failed(0)  # True: their seat from an earlier join; else the seats are all taken

    def confirm_seat(self, space_id: str, user_id: str, sid: str, now: datetime) -> None:
        """The media server reports ``user_id`` connected as ``sid`` (a listener): their seat now
        belongs to that connection. A listener connected without a seat (it was released by a
        ``participant_left`` that overtook this ``participant_joined``) takes one, past the cap if
        need be: the count stays the number of connected WebRTC listeners."""
        for _ in range(_ATTEMPTS):
            try:
                self.table.update(keys.space_pk(space_id), keys.seat_sk(user_id), UpdateExpression="SET sid = :sid",
                                  ConditionExpression="attribute_exists(PK)",
                                  ExpressionAttributeValues=values({":sid": sid}))
                return
            except ConditionFailed:
                pass
            try:
                self.table.transact([
                    {"Put": {"Item": serialize({**self._seat(space_id, user_id, now), "sid": sid}),
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

    def release_seat(self, space_id: str, user_id: str, sid: str) -> bool:
        """Free the seat of ``user_id`` when connection ``sid`` left: only if the seat belongs to
        that connection (or to none yet). False when there was nothing to free."""
        try:
            self.table.transact([
                {"Delete": {"Key": keys.key(keys.space_pk(space_id), keys.seat_sk(user_id)),
                            "ConditionExpression": "attribute_exists(PK) AND (attribute_not_exists(sid) OR sid = :sid)",
                            "ExpressionAttributeValues": values({":sid": sid})}},
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
                self.table.delete(keys.space_pk(space_id), keys.seat_sk(user_id),
                                  ConditionExpression="attribute_not_exists(sid) OR sid = :sid",
                                  ExpressionAttributeValues=values({":sid": sid}))
            except ConditionFailed:
                return False
            return True

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
