"""Real LiveKit clients for tests and benchmarks: connect with an API-issued token, publish a
sine tone as a microphone, record what arrives, and check it window by window: "hears the tone"
holds in every 100 ms window (loud, at the tone's frequency) and "hears nothing" in every window
quiet, so a dropout or a burst that an average over the whole recording would hide fails."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import numpy as np

from livekit import rtc

RATE = 48_000
FRAME = RATE // 100  # 10 ms
CONNECT_TIMEOUT = 10.0


async def connect(url: str, token: str) -> Client:
    """Connect a room client. ``Room.connect`` is never cancelled from outside: its own timeout
    option bounds it (cancelling it mid-handshake leaves the SDK's native side in a bad state)."""
    client = Client(rtc.Room())
    await client.room.connect(url, token, rtc.RoomOptions(auto_subscribe=True, connect_timeout=CONNECT_TIMEOUT))
    return client


@dataclass
class Client:
    """A connected room plus what it has seen."""

    room: rtc.Room
    audio: dict[str, rtc.Track] = field(default_factory=dict)  # identity -> subscribed audio track
    data: list[tuple[str | None, dict]] = field(default_factory=list)  # (topic, payload)
    muted: list[str] = field(default_factory=list)  # identities whose track was muted
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    permissions: asyncio.Event = field(default_factory=asyncio.Event)
    video: list[str] = field(default_factory=list)  # identities whose video track was subscribed
    video_published: list[str] = field(default_factory=list)  # identities announcing a video track

    def __post_init__(self) -> None:
        @self.room.on("track_subscribed")
        def _subscribed(track: rtc.Track, _pub: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant) -> None:
            if track.kind == rtc.TrackKind.KIND_AUDIO:
                self.audio[who.identity] = track
            else:
                self.video.append(who.identity)

        @self.room.on("track_published")
        def _published(pub: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant) -> None:
            if pub.kind != rtc.TrackKind.KIND_AUDIO:
                self.video_published.append(who.identity)

        @self.room.on("data_received")
        def _data(packet: rtc.DataPacket) -> None:
            with contextlib.suppress(ValueError):
                self.data.append((packet.topic, json.loads(packet.data)))

        @self.room.on("track_muted")
        def _muted(who: rtc.Participant, _pub: rtc.TrackPublication) -> None:
            self.muted.append(who.identity)

        @self.room.on("disconnected")
        def _gone(*_args: object) -> None:
            self.disconnected.set()

        @self.room.on("participant_permissions_changed")
        def _perms(*_args: object) -> None:
            self.permissions.set()

    @property
    def identity(self) -> str:
        return self.room.local_participant.identity

    async def wait_for_audio_from(self, identity: str, timeout: float = 10.0) -> rtc.Track:
        await eventually(lambda: identity in self.audio, timeout, f"audio from {identity}")
        return self.audio[identity]

    async def close(self) -> None:
        if self.room.isconnected():
            await self.room.disconnect()


class Tone:
    """A microphone track playing a sine at ``hz`` (or silence until ``start()``), paced in real
    time with a short queue so what is heard is what was just played."""

    def __init__(self, hz: float, *, silent: bool = False, amplitude: float = 0.5) -> None:
        self.hz = hz
        self.amplitude = amplitude
        self.playing = not silent
        self.started_at: float | None = None if silent else time.perf_counter()
        self.source = rtc.AudioSource(RATE, 1, queue_size_ms=50)
        self.track = rtc.LocalAudioTrack.create_audio_track("microphone", self.source)
        self._task: asyncio.Task | None = None
        self._n = 0

    async def publish(self, client: Client, *, dtx: bool = False) -> rtc.LocalTrackPublication:
        """``dtx``: Opus discontinuous transmission, a packet every 400 ms or so while silent."""
        self._task = asyncio.ensure_future(self._feed())
        return await client.room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=dtx))

    def start(self) -> None:
        self.playing = True

    def silence(self) -> None:
        """Back to silence; the next ``start()`` records a new ``started_at``."""
        self.playing = False
        self.started_at = None

    def _frame(self) -> np.ndarray:
        """The next 10 ms to play."""
        if not self.playing:
            return np.zeros(FRAME, dtype=np.int16)
        t = (np.arange(FRAME) + self._n) / RATE
        if self.started_at is None:
            self.started_at = time.perf_counter()
        self._n += FRAME
        return (self.amplitude * np.sin(2 * np.pi * self.hz * t) * 32767).astype(np.int16)

    async def _feed(self) -> None:
        began = time.perf_counter()
        frames = 0
        while True:
            pcm = self._frame()
            await self.source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME))
            frames += 1
            delay = began + frames * FRAME / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Speech(Tone):
    """A microphone track that says the 48 kHz mono audio it is given (``say``), in real time, and
    is silent in between; ``ended_at`` is when the last of it was played (``perf_counter``)."""

    def __init__(self) -> None:
        super().__init__(0.0, silent=True)
        self._queued = np.zeros(0, dtype=np.int16)
        self.ended_at: float | None = None

    def say(self, pcm: np.ndarray) -> None:
        self._queued = np.concatenate([self._queued, pcm.astype(np.int16)])
        self.ended_at = None

    def said(self) -> bool:
        return self._queued.size == 0 and self.ended_at is not None

    def _frame(self) -> np.ndarray:
        if not self._queued.size:
            return np.zeros(FRAME, dtype=np.int16)
        pcm, self._queued = self._queued[:FRAME], self._queued[FRAME:]
        if not self._queued.size:
            self.ended_at = time.perf_counter()
        return np.pad(pcm, (0, FRAME - pcm.size))


async def record(track: rtc.Track, seconds: float, timeout: float = 15.0, *, settle: float = 0.0) -> np.ndarray:
    """``seconds`` of mono 48 kHz audio from ``track``, after dropping the first ``settle``
    seconds (a change just made, such as a mute, or a track just subscribed, still on its way)."""
    stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
    chunks: list[np.ndarray] = []
    skip = int(settle * RATE)
    need = skip + int(seconds * RATE)

    async def collect() -> None:
        async for event in stream:
            chunks.append(np.frombuffer(event.frame.data, dtype=np.int16).copy())
            if sum(len(c) for c in chunks) >= need:
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    finally:
        await stream.aclose()
    return np.concatenate(chunks)[skip:need]


async def first_loud_frame(track: rtc.Track, *, threshold: float = 2000.0, timeout: float = 10.0) -> float:
    """The ``perf_counter`` time at which a frame louder than ``threshold`` (RMS) arrives."""
    stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)

    async def watch() -> float:
        async for event in stream:
            pcm = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            if pcm.size and np.sqrt(np.mean(pcm ** 2)) > threshold:
                return time.perf_counter()
        raise AssertionError("the stream ended before any sound")

    try:
        return await asyncio.wait_for(watch(), timeout)
    finally:
        await stream.aclose()


WINDOW = 0.1  # seconds: the span every audio check must hold in, not only on average
TONE_LEVEL = 3000.0  # RMS a heard tone stays above (the Tone plays at about 11,600)
QUIET_LEVEL = 100.0  # RMS silence stays below
TONE_TOLERANCE = 1 / WINDOW  # Hz: what a 100 ms window resolves (a splice inside one moved its peak 6 Hz)


def dominant_frequency(pcm: np.ndarray, rate: int = RATE) -> float:
    """The strongest frequency, to the nearest hertz however short ``pcm`` is (zero-padded to a
    second, so a 100 ms window is not read in 10 Hz steps)."""
    x = pcm.astype(np.float64)
    x = (x - x.mean()) * np.hanning(len(x))
    n = max(len(x), rate)
    spectrum = np.abs(np.fft.rfft(x, n))
    return float(np.fft.rfftfreq(n, 1 / rate)[spectrum.argmax()])


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if pcm.size else 0.0


def windows(pcm: np.ndarray, rate: int = RATE, seconds: float = WINDOW) -> list[np.ndarray]:
    """``pcm`` cut into whole windows of ``seconds`` (a shorter tail is left out)."""
    size = int(seconds * rate)
    return [pcm[i:i + size] for i in range(0, pcm.size - size + 1, size)]


def holds_tone(pcm: np.ndarray, hz: float, *, level: float = 1000.0, rate: int = RATE) -> bool:
    """Whether the ``hz`` tone is in ``pcm`` at all, loud and the strongest sound: where it may
    only begin (the first HLS segment after an onset); ``assert_tone`` is for where it must last."""
    return pcm.size > 0 and rms(pcm) > level and abs(dominant_frequency(pcm, rate) - hz) < TONE_TOLERANCE


def missing_tone(pcm: np.ndarray, hz: float, *, level: float = TONE_LEVEL, rate: int = RATE) -> str | None:
    """Why ``pcm`` does not carry the ``hz`` tone in every window (``None``: it does): the
    windows that are too soft or at another frequency, first one described."""
    parts = windows(pcm, rate)
    if not parts:
        return f"no audio ({pcm.size} samples)"
    bad = [(i, rms(w), dominant_frequency(w, rate)) for i, w in enumerate(parts)]
    bad = [b for b in bad if b[1] <= level or abs(b[2] - hz) >= TONE_TOLERANCE]
    if not bad:
        return None
    i, level_i, peak = bad[0]
    return (f"{len(bad)} of {len(parts)} windows of {WINDOW:.1f} s miss the {hz:.0f} Hz tone; the first, "
            f"at {i * WINDOW:.1f} s, has RMS {level_i:.0f} (needs > {level:.0f}) at {peak:.0f} Hz")


def loud_windows(pcm: np.ndarray, *, level: float = QUIET_LEVEL, rate: int = RATE) -> str | None:
    """Why ``pcm`` is not silent in every window (``None``: it is)."""
    parts = windows(pcm, rate)
    if not parts:
        return f"no audio ({pcm.size} samples)"
    loud = [(i, rms(w)) for i, w in enumerate(parts) if rms(w) >= level]
    if not loud:
        return None
    i, level_i = loud[0]
    return (f"{len(loud)} of {len(parts)} windows of {WINDOW:.1f} s are louder than RMS {level:.0f}; the first, "
            f"at {i * WINDOW:.1f} s, has {level_i:.0f} at {dominant_frequency(parts[i], rate):.0f} Hz")


def assert_tone(pcm: np.ndarray, hz: float, what: str = "", *, level: float = TONE_LEVEL,
                rate: int = RATE) -> None:
    """"Hears the tone": every window of ``pcm`` is louder than ``level`` and at ``hz``."""
    reason = missing_tone(pcm, hz, level=level, rate=rate)
    assert reason is None, f"{what}: {reason}" if what else reason


def assert_quiet(pcm: np.ndarray, what: str = "", *, level: float = QUIET_LEVEL, rate: int = RATE) -> None:
    """"Hears nothing": every window of ``pcm`` is below ``level``."""
    reason = loud_windows(pcm, level=level, rate=rate)
    assert reason is None, f"{what}: {reason}" if what else reason


async def eventually(check, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Picture:
    """A video track (a moving grey frame at 15 fps) published as ``source``: what a client that
    ignores the audio-only rule would send."""

    def __init__(self, source: rtc.TrackSource.ValueType, *, name: str = "microphone") -> None:
        self.video = rtc.VideoSource(64, 64)
        self.track = rtc.LocalVideoTrack.create_video_track(name, self.video)
        self.source = source
        self._task: asyncio.Task | None = None

    async def publish(self, client: Client) -> rtc.LocalTrackPublication:
        self._task = asyncio.ensure_future(self._feed())
        return await client.room.local_participant.publish_track(self.track, rtc.TrackPublishOptions(source=self.source))

    async def _feed(self) -> None:
        n = 0
        while True:
            n += 1
            pixels = bytes([n % 256]) * (64 * 64 * 4)
            self.video.capture_frame(rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, pixels))
            await asyncio.sleep(1 / 15)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
