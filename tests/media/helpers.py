"""A Space as the API would set it up, without the API: a room on the real server, the Space in
the stand-in API, join tokens with the role attribute the API sets, the worker's dispatch."""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from airwaves_media.codec import RATE, decode
from airwaves_media.playlist import Playlist
from livekit import api, rtc
from tests.integration import audio_clients as ac
from tests.media.conftest import LiveKit
from tests.media.fake_api import FakeMediaApi
from tests.media_worker import S3

Playing = TypeVar("Playing", bound=ac.Tone)


@dataclass
class Space:
    lk: LiveKit
    fake_api: FakeMediaApi
    s3: S3
    space_id: str = field(default_factory=lambda: f"sp-{secrets.token_hex(4)}")
    started_at: float = 0.0
    clients: list[ac.Client] = field(default_factory=list)
    tones: list[ac.Tone] = field(default_factory=list)

    def lkapi(self) -> api.LiveKitAPI:
        return api.LiveKitAPI(self.lk.api_url, self.lk.api_key, self.lk.api_secret)

    async def open(self, *, stage: list[str], recording: bool = True, clips_enabled: bool = True,
                   captions: bool = False) -> None:
        async with self.lkapi() as lk:
            await lk.room.create_room(api.CreateRoomRequest(name=self.space_id, empty_timeout=120))
        self.started_at = self.fake_api.add_space(self.space_id, stage=stage, recording=recording,
                                                  clips_enabled=clips_enabled, captions=captions)

    def token(self, identity: str, role: str, *, can_publish: bool) -> str:
        grants = api.VideoGrants(room_join=True, room=self.space_id, can_publish=can_publish, can_subscribe=True,
                                 can_publish_data=False)
        return (api.AccessToken(self.lk.api_key, self.lk.api_secret).with_identity(identity)
                .with_grants(grants).with_attributes({"role": role}).to_jwt())

    async def join(self, identity: str, role: str, *, hz: float | None = None, silent: bool = False,
                   can_publish: bool = True) -> ac.Tone | None:
        if hz is None:
            self.clients.append(await ac.connect(self.lk.url, self.token(identity, role, can_publish=can_publish)))
            return None
        return await self.join_playing(identity, role, ac.Tone(hz, silent=silent))

    async def join_playing(self, identity: str, role: str, tone: Playing) -> Playing:
        """Join on stage publishing ``tone`` (a ``Tone`` or a ``Speech``) as the microphone."""
        client = await ac.connect(self.lk.url, self.token(identity, role, can_publish=True))
        self.clients.append(client)
        await tone.publish(client)
        self.tones.append(tone)
        return tone

    async def dispatch(self) -> None:
        async with self.lkapi() as lk:
            await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(
                agent_name="airwaves-media", room=self.space_id, metadata=json.dumps({"space_id": self.space_id})))

    async def wait_for_worker(self, timeout: float = 30) -> None:
        polls = self.fake_api.polls.get(self.space_id, 0)
        await ac.eventually(lambda: self.fake_api.polls.get(self.space_id, 0) >= polls + 2, timeout,
                            "the worker polling the Space")

    async def set_role(self, identity: str, role: str) -> None:
        async with self.lkapi() as lk:
            await lk.room.update_participant(api.UpdateParticipantRequest(
                room=self.space_id, identity=identity, attributes={"role": role}))

    async def delete_room(self) -> float:
        for tone in self.tones:
            await tone.stop()
        async with self.lkapi() as lk:
            await lk.room.delete_room(api.DeleteRoomRequest(room=self.space_id))
        return time.time()

    async def close(self) -> None:
        for tone in self.tones:
            await tone.stop()
        for client in self.clients:
            await client.close()

    def offset(self) -> float:
        return time.time() - self.started_at

    async def wait_for_replay(self, timeout: float = 60) -> dict:
        def available() -> bool:
            last = self.fake_api.last_recording(self.space_id)
            return bool(last and last["state"] == "available")

        await ac.eventually(available, timeout, "the replay to be available", every=0.1)
        report = self.fake_api.last_recording(self.space_id)
        assert report is not None
        return report

    # -- what was stored ------------------------------------------------------------------
    def segments(self) -> list[dict]:
        """This Space's final caption segments at the stand-in API, in the order they start."""
        mine = [s for s in self.fake_api.segments.values() if s["segment_id"].startswith(f"{self.space_id}-")]
        return sorted(mine, key=lambda s: s["start_seconds"])

    def playlist(self) -> Playlist:
        from datetime import UTC, datetime

        text = self.s3.get(f"spaces/{self.space_id}/hls/playlist.m3u8").decode()
        return Playlist.parse(text, datetime.fromtimestamp(self.started_at, UTC))

    def hls_timeline(self) -> np.ndarray:
        """The HLS decoded as a player does, each run between discontinuities in one pass (a
        segment decoded alone starts with the AAC decoder's warm-up, a glitch no player plays),
        laid at its playlist offset on the Space's timeline."""
        playlist = self.playlist()
        total = int(playlist.end_offset * RATE) + RATE
        out = np.zeros(total, dtype=np.int16)
        runs: list[list] = []
        for seg in playlist.segments:
            if seg.discontinuity or not runs:
                runs.append([])
            runs[-1].append(seg)
        for run in runs:
            pcm = decode(b"".join(self.s3.get(f"spaces/{self.space_id}/hls/{seg.uri}") for seg in run), "mpegts")
            at = round(run[0].offset * RATE)
            out[at:at + pcm.size] = pcm[: max(0, total - at)]
        return out

    def ogg(self) -> np.ndarray:
        return decode(self.s3.get(f"spaces/{self.space_id}/recording.ogg"))


def listen(client: ac.Client) -> list[dict]:
    """Every caption the client receives on ``lk.transcription``: its sender, text, LiveKit's
    transcription attributes and ``at``, when it was read in full (``perf_counter``)."""
    got: list[dict] = []
    readers: set[asyncio.Future] = set()

    def handler(reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            got.append({"sender": sender, "text": text, "at": time.perf_counter(), **dict(reader.info.attributes)})

        task = asyncio.ensure_future(read())
        readers.add(task)
        task.add_done_callback(readers.discard)

    client.room.register_text_stream_handler("lk.transcription", handler)
    return got


def finals(got: list[dict], sender: str | None = None) -> list[dict]:
    return [g for g in got if g["lk.transcription_final"] == "true" and sender in (None, g["sender"])]


@dataclass
class Said:
    """What one ``say_and_wait`` got: the words of the finals attributed to the speaker since it
    began, and the latency from the end of the audio to the last of them at the listener."""

    text: str
    latency: float
    captions: list[dict]


async def say_and_wait(speech: ac.Speech, pcm: np.ndarray, got: list[dict], sender: str, *,
                       timeout: float = 20.0, settle: float = 1.5) -> Said:
    """Say ``pcm`` and wait for its final caption; then ``settle`` seconds more, since an
    utterance the VAD split at a pause gives more than one final."""
    seen = len(got)
    speech.say(pcm)
    await ac.eventually(speech.said, timeout, f"{sender} to finish speaking")
    ended = speech.ended_at
    assert ended is not None
    await ac.eventually(lambda: any(f["at"] >= ended for f in finals(got[seen:], sender)), timeout,
                        f"a final caption of {sender}")
    await asyncio.sleep(settle)
    mine = finals(got[seen:], sender)
    return Said(" ".join(f["text"] for f in mine), mine[-1]["at"] - ended, mine)


def window(pcm: np.ndarray, a: float, b: float) -> np.ndarray:
    return pcm[int(a * RATE):int(b * RATE)]


def band_energy(pcm: np.ndarray, hz: float, width: float = 15.0) -> float:
    """The share of the window's spectral energy within ``width`` Hz of ``hz``."""
    x = pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    total = spectrum.sum() or 1.0
    return float(spectrum[np.abs(freqs - hz) < width].sum() / total)


async def sleep_until(space: Space, offset: float) -> None:
    await asyncio.sleep(max(0.0, offset - space.offset()))


def job_lines(worker_log: str, space_id: str) -> list[dict]:
    """The worker's log lines about one Space (each must be a JSON object), checked to carry the
    job's fields: one job, its dispatch, the room, and the line that says the job is in the room."""
    lines = [json.loads(text) for text in worker_log.splitlines() if text.strip()]
    ours = [line for line in lines if line.get("space_id") == space_id]
    assert any(line["message"] == "in the Space's room" for line in ours), worker_log[-3000:]
    assert all(line["room"] == space_id and line["job_id"] and line["dispatch_id"] for line in ours), ours
    return ours
