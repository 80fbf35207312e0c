"""Audiences past one media node (issue 16): the WebRTC cap, the signed HLS listen link, the live
sliding-window playlist and the approximate count of HLS listeners. Plain Python.

* A Space's WebRTC audience is capped (``Settings.webrtc_listener_cap``); past the cap a
  listener's join answers HLS: a link to ``GET /v1/spaces/{id}/live.m3u8?token=...`` signed here
  (HMAC-SHA256 over space, user and expiry), valid until the answer's ``expires_at``.
* The media worker writes the live stage as HLS under ``spaces/<id>/live/`` (its own small
  sliding-window playlist, whatever the recording does); the API answers it rewritten with
  short-lived presigned segment URLs and at most ``LIVE_SEGMENTS`` segments.
* Segments may come from a CDN instead (``Settings.hls_cdn_url``): then every listener of a Space
  gets the same signed segment URLs within one validity window (``shared_link_expiry``), so the CDN
  fetches each segment from S3 once per edge, not once per listener.
* HLS listeners are counted approximately: each playlist fetch marks its listener in the current
  ``HLS_WINDOW_SECONDS`` window (once per window, a conditional write); the count is the larger of
  the current and the previous window's distinct listeners, so it covers those who fetched the
  playlist in the last 30-60 s. Players reload a live playlist every target duration (2 s), so
  every listener still listening is in both windows; one who left drops out within 60 s.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

HLS_WINDOW_SECONDS = 30
LIVE_SEGMENTS = 6  # segments in the live playlist (12 s of audio): players start 3 from its end
HLS_CONTENT_TYPE = "application/vnd.apple.mpegurl"
_SCOPE = b"airwaves-hls-listen\x00"


def live_prefix(space_id: str) -> str:
    return f"spaces/{space_id}/live/"


def shared_link_expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a shared segment link made at ``now`` expires: the end of the ``ttl`` window after the
    current one, so every link made in a window is the same (cacheable) and valid at least ``ttl``."""
    step = max(1, int(ttl.total_seconds()))
    return datetime.fromtimestamp((int(now.timestamp()) // step + 2) * step, tz=now.tzinfo or UTC)


def live_playlist_key(space_id: str) -> str:
    """The worker's live playlist (segments next to it, named ``000123.ts``)."""
    return f"spaces/{space_id}/live/playlist.m3u8"


# -- the listen link ---------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_listen_token(key: str, space_id: str, user_id: str, expires_at: datetime) -> str:
    payload = json.dumps({"s": space_id, "u": user_id, "e": int(expires_at.timestamp())},
                         separators=(",", ":")).encode()
    tag = hmac.new(key.encode(), _SCOPE + payload, hashlib.sha256).digest()[:18]
    return f"{_b64(payload)}.{_b64(tag)}"


def read_listen_token(key: str, token: str, space_id: str, now: datetime) -> str | None:
    """The listener's user id if ``token`` is a live link to ``space_id`` this key signed and it
    has not expired; None otherwise."""
    try:
        body, tag = token.split(".", 1)
        payload = _unb64(body)
        expected = hmac.new(key.encode(), _SCOPE + payload, hashlib.sha256).digest()[:18]
        if not hmac.compare_digest(_unb64(tag), expected):
            return None
        claims = json.loads(payload)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or claims.get("s") != space_id or not isinstance(claims.get("u"), str):
        return None
    if not isinstance(claims.get("e"), int) or claims["e"] <= now.timestamp():
        return None
    return str(claims["u"])


# -- the approximate HLS audience --------------------------------------------------------------------
def hls_window(now: datetime) -> int:
    return int(now.timestamp() // HLS_WINDOW_SECONDS)


def hls_listener_count(windows: Mapping[int, int], now: datetime) -> int:
    """Distinct HLS listeners of the last 30-60 s: the larger of the current and the previous
    window's counts (``windows`` maps a window number to its distinct listeners)."""
    current = hls_window(now)
    return max(windows.get(current, 0), windows.get(current - 1, 0))


# -- the live playlist ---------------------------------------------------------------------------------
_EXTINF = re.compile(r"^#EXTINF:([0-9.]+)")


def live_playlist(text: str | None, *, resolve: Callable[[str], str], keep: int = LIVE_SEGMENTS) -> str:
    """The worker's live playlist as players get it: the last ``keep`` segments, each URI made
    fetchable by ``resolve`` (a presigned URL), ``EXT-X-MEDIA-SEQUENCE`` and
    ``EXT-X-DISCONTINUITY-SEQUENCE`` following what was dropped, no ``EXT-X-PLAYLIST-TYPE`` (a
    sliding window is neither EVENT nor VOD), and ``EXT-X-ENDLIST`` only once the Space has ended
    (the worker writes it at the end). ``None`` (nothing cut yet) is an empty live playlist, which
    players reload until segments appear."""
    media_sequence = 0
    discontinuity_sequence = 0
    target = 2
    ended = False
    segments: list[tuple[list[str], str, bool]] = []
    pending: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line == "#EXTM3U" or line.startswith(("#EXT-X-VERSION", "#EXT-X-PLAYLIST-TYPE")):
            continue
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            media_sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            discontinuity_sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            pending.append(line)
        else:
            segments.append((pending, line, "#EXT-X-DISCONTINUITY" in pending))
            pending = []
    dropped = max(0, len(segments) - keep)
    discontinuity_sequence += sum(1 for _, _, disc in segments[:dropped + 1] if disc) if dropped else 0
    out = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
           f"#EXT-X-MEDIA-SEQUENCE:{media_sequence + dropped}"]
    if discontinuity_sequence:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    for i, (tags, uri, _) in enumerate(segments[dropped:]):
        out += [t for t in tags if not (i == 0 and dropped and t == "#EXT-X-DISCONTINUITY")]
        out.append(resolve(uri))
    if ended:
        out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"
