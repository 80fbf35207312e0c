"""Recording rules without any I/O: report idempotence, trim bounds, access, playlist rewriting."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import InvalidState, TicketRequired, ValidationFailed
from chalicelib.domain.recordings import (
    PresignUri,
    Replay,
    ReplayState,
    TranscriptSegment,
    check_media_access,
    check_trim,
    next_replay,
    rewrite_playlist,
    to_webvtt,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
R = timedelta(days=30)


def report(current, state, duration, ended_at=None):
    return next_replay(current, state=state, duration_seconds=duration, hls_key="spaces/s/hls/playlist.m3u8",
                       ogg_key=None, ended_at=ended_at, retention=R, now=NOW)


def test_reports_move_forward_and_available_is_final_unless_longer():
    first = report(None, ReplayState.recording, 10)
    assert first.state is ReplayState.recording and first.expires_at is None
    done = report(first, ReplayState.available, 20, ended_at=NOW)
    assert done.expires_at == NOW + R
    assert report(done, ReplayState.failed, 30) is None
    assert report(done, ReplayState.available, 20) is None
    assert report(done, ReplayState.available, 25).duration_seconds == 25
    trimmed = done.model_copy(update={"start_offset_seconds": 4})
    assert report(trimmed, ReplayState.available, 26).start_offset_seconds == 4
    assert report(Replay(state=ReplayState.deleted), ReplayState.available, 99) is None


def test_trim_bounds():
    replay = Replay(state=ReplayState.available, duration_seconds=10)
    assert check_trim(replay, 9.9994) == 9.999
    for bad in (-0.1, float("inf")):
        with pytest.raises(ValidationFailed):
            check_trim(replay, bad)
    for past_the_end in (10, 11):  # well formed; refused for this replay's length: 409, not 400
        with pytest.raises(InvalidState):
            check_trim(replay, past_the_end)


def test_visibility_and_expiry():
    assert Replay(state=ReplayState.available, expires_at=NOW).visible(NOW - timedelta(seconds=1))
    assert not Replay(state=ReplayState.available, expires_at=NOW).visible(NOW)
    assert not Replay(state=ReplayState.deleted).visible(NOW)
    assert Replay(state=ReplayState.recording).public_state() == "processing"


def test_ticketed_media_needs_a_paid_ticket_except_on_stage():
    for role in ("host", "cohost", "speaker"):
        check_media_access(role=role, ticketed=True, has_paid_ticket=False)
    check_media_access(role="listener", ticketed=True, has_paid_ticket=True)
    check_media_access(role="listener", ticketed=False, has_paid_ticket=False)
    with pytest.raises(TicketRequired):
        check_media_access(role="listener", ticketed=True, has_paid_ticket=False)


PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXTINF:2.000,
000000.ts
#EXTINF:2.000,
000001.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
000002.ts
#EXTINF:2.000,
000003.ts
"""


def presign():
    return PresignUri("spaces/s/hls/playlist.m3u8", lambda key: f"https://signed/{key}")


def test_rewrite_resolves_segments_and_closes_the_list():
    out = rewrite_playlist(PLAYLIST, resolve=presign())
    lines = out.splitlines()
    assert lines[0] == "#EXTM3U" and "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
    assert [x for x in lines if not x.startswith("#")] == [f"https://signed/spaces/s/hls/{i:06d}.ts" for i in range(4)]
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" not in lines and lines.count("#EXT-X-DISCONTINUITY") == 1


def test_rewrite_trims_whole_segments_and_starts_at_the_remainder():
    out = rewrite_playlist(PLAYLIST, resolve=presign(), start_offset_seconds=4.5).splitlines()
    assert [x for x in out if not x.startswith("#")] == ["https://signed/spaces/s/hls/000002.ts",
                                                        "https://signed/spaces/s/hls/000003.ts"]
    assert "#EXT-X-MEDIA-SEQUENCE:2" in out and "#EXT-X-START:TIME-OFFSET=0.500,PRECISE=YES" in out
    # the dropped gap is counted, and the first kept segment carries no discontinuity of its own
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in out and "#EXT-X-DISCONTINUITY" not in out
    exact = rewrite_playlist(PLAYLIST, resolve=presign(), start_offset_seconds=2).splitlines()
    assert not any(x.startswith("#EXT-X-START") for x in exact) and "#EXT-X-MEDIA-SEQUENCE:1" in exact


# as the media worker writes it: the worker joined 1 s after the start, recording was off 8-20 s
STAMPED = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:01.000Z
#EXTINF:2.000,
000000.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:03.000Z
#EXTINF:2.000,
000001.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:05.000Z
#EXTINF:2.000,
000002.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:20.000Z
#EXTINF:2.000,
000003.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:22.000Z
#EXTINF:2.000,
000004.ts
#EXT-X-ENDLIST
"""


def test_trim_is_on_the_space_timeline_by_the_segments_program_date_times():
    """The trim offset is seconds since the Space started (as the Ogg, the transcript and the
    duration): segments are placed by their PROGRAM-DATE-TIME, not by summed EXTINFs."""
    started = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)

    def kept(offset: float) -> tuple[list[str], list[str]]:
        out = rewrite_playlist(STAMPED, resolve=presign(), start_offset_seconds=offset, started_at=started)
        lines = out.splitlines()
        return [x.rsplit("/", 1)[1] for x in lines if not x.startswith("#")], [x for x in lines if x.startswith("#EXT-X-")]

    uris, tags = kept(4.5)  # inside 000001 (3-5 s): summed EXTINFs would say 000002 at 0.5
    assert uris[0] == "000001.ts" and "#EXT-X-START:TIME-OFFSET=1.500,PRECISE=YES" in tags
    uris, tags = kept(21.0)  # after the gap: 000003 (20-22 s), 1 s in
    assert uris == ["000003.ts", "000004.ts"] and "#EXT-X-START:TIME-OFFSET=1.000,PRECISE=YES" in tags
    assert "#EXT-X-MEDIA-SEQUENCE:3" in tags and "#EXT-X-DISCONTINUITY-SEQUENCE:1" in tags
    uris, tags = kept(12.0)  # inside the gap: the first segment after it, from its start
    assert uris == ["000003.ts", "000004.ts"] and not any(t.startswith("#EXT-X-START") for t in tags)
    uris, tags = kept(0.5)  # before the worker joined: nothing dropped, nothing to skip
    assert len(uris) == 5 and not any(t.startswith("#EXT-X-START") for t in tags)
    # without started_at the EXTINFs are summed, as for a playlist without stamps
    plain = rewrite_playlist(STAMPED, resolve=presign(), start_offset_seconds=4.5).splitlines()
    assert next(x.rsplit("/", 1)[1] for x in plain if not x.startswith("#")) == "000002.ts"


def test_relative_uris_resolve_inside_the_playlist_folder_only():
    resolve = presign()
    assert resolve("../recording.ogg") == "https://signed/spaces/s/recording.ogg"
    assert resolve("https://cdn.example/x.ts") == "https://cdn.example/x.ts"


def test_webvtt_voices_each_cue():
    vtt = to_webvtt([TranscriptSegment("a1", "alice", 1.5, 3.25, "hello <there>"),
                     TranscriptSegment("b1", "bob", 3661.0, 3662.0, "bye")])
    assert vtt.startswith("WEBVTT\n")
    assert "00:00:01.500 --> 00:00:03.250\n<v alice>hello &lt;there&gt;" in vtt
    assert "01:01:01.000 --> 01:01:02.000" in vtt
