"""Caption engines run off the worker's event loop (issue 14): a slow engine never holds up the
loop that mixes and records, each caption is stamped with when its audio arrived rather than when
it was decoded, a speaker leaving mid-sentence still gets the final words, and a captioner that
falls too far behind drops audio instead of growing without bound."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from airwaves_media.captions import Caption, Hypothesis, ScriptedEngine, SpeakerCaptions
from airwaves_media.stage_captions import CaptionThread, StageCaptions
from tests.media.test_caption_languages import voiced


class SlowRecognizer:
    """Decodes for ``cost`` seconds on every frame and when an utterance ends (as Whisper's final
    re-decode and Transcribe's wait for finals do)."""

    def __init__(self, cost: float, gate: threading.Event | None = None) -> None:
        self.cost = cost
        self.gate = gate
        self.frames = 0

    def accept(self, pcm: np.ndarray) -> list[Hypothesis]:
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.cost)
        self.frames += 1
        return []

    def finish(self) -> Hypothesis | None:
        time.sleep(self.cost)
        return Hypothesis(f"heard {self.frames} frames", final=True)


class StuckEngine:
    """Every recognizer waits on ``gate`` before each frame: an engine that is busy decoding."""

    name = "stuck"
    languages = None

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.opened: list[SlowRecognizer] = []

    def supports(self, language: str) -> bool:
        return True

    def open(self, speaker: str, language: str) -> SlowRecognizer:
        self.opened.append(SlowRecognizer(0.0, self.gate))
        return self.opened[-1]


def test_a_busy_engine_never_holds_up_the_loop_and_captions_carry_the_time_they_were_said():
    got: list[Caption] = []
    now = [0.0]
    gate = threading.Event()
    engine = StuckEngine(gate)

    async def scenario() -> tuple[int, bool]:
        stage = StageCaptions(engine, got.append, lambda: now[0], prefix="sp", threaded=True)
        stage.add("TR_1", "ann")
        for chunk in voiced(1.0):
            stage.push("TR_1", chunk)
            now[0] += 0.01
        for _ in range(50):
            stage.push("TR_1", np.zeros(480, dtype=np.int16))
            now[0] += 0.01
        slept = await asyncio.wait_for(asyncio.sleep(0.05, True), 5)  # the loop still runs
        decoded_while_pushing = engine.opened[0].frames
        gate.set()
        await stage.drain(5.0)
        return decoded_while_pushing, slept

    decoded_while_pushing, slept = asyncio.run(scenario())
    assert slept and decoded_while_pushing == 0  # the loop only queued; the engine was still stuck
    finals = [c for c in got if c.final]
    assert len(finals) == 1 and int(finals[0].text.split()[1]) >= 100  # all the voiced audio reached it
    # said from 0.0 s to 1.4 s (1 s of tone, 0.4 s of hangover), however late it was decoded
    assert finals[0].start == 0.0 and abs(finals[0].end - 1.4) < 0.02, finals[0]


def test_a_speaker_leaving_mid_sentence_gets_the_final_words_and_ids_never_repeat():
    got: list[Caption] = []

    async def scenario() -> None:
        stage = StageCaptions(ScriptedEngine({"ann": ["first words", "second words"]}), got.append, lambda: 1.0,
                              prefix="sp", threaded=True)
        stage.add("TR_1", "ann")
        for chunk in voiced(0.5):
            stage.push("TR_1", chunk)
        stage.remove("TR_1")  # demoted while still talking
        stage.add("TR_2", "ann")  # back on stage with a new track
        for chunk in voiced(0.5):
            stage.push("TR_2", chunk)
        await stage.drain(5.0)  # the job ends mid-sentence too

    asyncio.run(scenario())
    finals = [(c.segment_id, c.track_sid, c.text) for c in got if c.final]
    assert finals == [("sp-ann-1", "TR_1", "first words"), ("sp-ann-2", "TR_2", "second words")]


def test_a_captioner_too_far_behind_drops_audio_and_still_stops():
    gate = threading.Event()  # the engine is stuck until the gate opens
    got: list[Caption] = []
    captioner = SpeakerCaptions("ann", "TR_1", SlowRecognizer(0.0, gate), got.append, lambda: 0.0, prefix="sp")
    thread = CaptionThread(captioner, lambda: 0.0, backlog=0.1)  # room for 10 frames
    for chunk in voiced(0.5):
        thread.push(chunk)
    assert thread.dropped >= 39  # 50 frames, 10 queued, one or so taken by the stuck engine
    thread.close()  # room is made for the stop even though the queue is full
    gate.set()
    thread.join(5.0)
    assert not thread.thread.is_alive()
    assert len(got) == 1 and got[0].final  # what it did hear still ends in a final
