"""Live captions (issue 14).

Offline: word error rate and real-time factor of the embedded engines (``embedded``: Whisper
tiny.en on CTranslate2; ``pocketsphinx`` 5.1.1, its bundled en-us model) on fixed espeak-ng
sentences, fed as the worker feeds it: 48 kHz mono int16 in 20 ms frames, resampled to 16 kHz
inside the engine; the final words re-decode the whole utterance. RTF = decode time / audio
time, one core, no LiveKit.

Live: the same sentences said by two real SDK clients on stage through the real livekit-server,
captioned by the worker with the embedded engine, read by a listener's client: latency from the
end of a sentence to its last final caption at the listener (p50/p95), WER of what the listener
got, and the worker's CPU (its whole process tree) per second of speech, with one speaker at a
time and with both speaking at once.

Runs in the worker's venv: under ``make bench`` (main venv) it re-runs itself there.
"""
from __future__ import annotations

from bench.worker_venv import run_in_worker_venv


def run() -> None:
    from airwaves_media.captions import PocketsphinxEngine
    from airwaves_media.whisper_stt import WhisperEngine
    from tests.media.speech import ESPEAK, SENTENCES, espeak, speak, transcribe

    if espeak() is None:
        print("bench_captions: espeak-ng is missing (apt-get install espeak-ng)")
        return
    for engine in (WhisperEngine(), PocketsphinxEngine()):
        report(engine, [transcribe(engine, s, speak(s)) for s in SENTENCES], ESPEAK)
    live()


def live() -> None:
    import asyncio

    from bench.media_stack import cpu_seconds, media_stack, rate
    from bench.stats import p50_p95
    from tests.integration import audio_clients as ac
    from tests.media.helpers import Said, Space, listen, say_and_wait
    from tests.media.speech import SENTENCES, speak, wer

    speech = {s: speak(s) for s in SENTENCES}
    seconds = {s: pcm.size / ac.RATE for s, pcm in speech.items()}
    with media_stack(AIRWAVES_STT_ENGINE="embedded") as stack:
        space = Space(stack.lk, stack.fake_api, stack.s3)
        loop = asyncio.new_event_loop()

        async def scenario() -> None:
            await space.open(stage=["host", "guest"], recording=False, captions=True)
            voices = [await space.join_playing("host", "host", ac.Speech()),
                      await space.join_playing("guest", "speaker", ac.Speech())]
            await space.join("listener", "listener")
            got = listen(space.clients[-1])
            await space.dispatch()
            await space.wait_for_worker()
            await asyncio.sleep(3)  # the model prewarmed
            idle = await asyncio.to_thread(rate, stack.pid, 5)
            heard: list[tuple[str, Said]] = []
            cpu, spoken, began = cpu_seconds(stack.pid), 0.0, loop.time()
            for i, line in enumerate(SENTENCES * 2):  # one at a time, host and guest in turn
                voice, who = voices[i % 2], ("host", "guest")[i % 2]
                heard.append((line, await say_and_wait(voice, speech[line], got, who)))
                spoken += seconds[line]
            one = (cpu_seconds(stack.pid) - cpu - idle * (loop.time() - began)) / spoken
            cpu, spoken, began = cpu_seconds(stack.pid), 0.0, loop.time()
            together: list[tuple[str, Said]] = []
            for i, line in enumerate(SENTENCES):  # both at once, different sentences
                other = SENTENCES[(i + 2) % len(SENTENCES)]
                both = await asyncio.gather(say_and_wait(voices[0], speech[line], got, "host"),
                                            say_and_wait(voices[1], speech[other], got, "guest"))
                together += [(line, both[0]), (other, both[1])]
                spoken += max(seconds[line], seconds[other])
            wall = loop.time() - began
            two = (cpu_seconds(stack.pid) - cpu - idle * wall) / spoken
            for line, h in heard:
                print(f"   live WER {wer(line, h.text):.2f}  latency {h.latency:.2f}s  ref={line!r} hyp={h.text!r}")
            for name, rows in (("one speaker at a time", heard), ("two speaking at once", together)):
                errors = sum(wer(ref, h.text) * len(ref.split()) for ref, h in rows)
                words = sum(len(ref.split()) for ref, _ in rows)
                print(f"   live, {name} ({len(rows)} sentences): end of sentence -> last final at the listener "
                      f"{p50_p95([h.latency * 1000 for _, h in rows])}; WER {errors / words:.2f} ({words} words)")
            print(f"   worker CPU: idle {idle:.2f} cores; above it, one speaker {one:.2f} CPU-s per second "
                  f"of speech; two at once {two:.2f} CPU-s per second of both speaking ({wall:.0f} s wall)")

        try:
            loop.run_until_complete(scenario())
        finally:
            loop.run_until_complete(space.close())


def report(engine: object, heard: list, espeak_args: list[str]) -> None:
    print(f"captions: engine={getattr(engine, 'name', engine)}, speech=espeak-ng {' '.join(espeak_args)}")
    for h in heard:
        print(f"  WER {h.wer:.2f}  RTF {h.decode_seconds / h.audio_seconds:.2f}  "
              f"ref={h.reference!r} hyp={h.text!r}")
    words = sum(len(h.reference.split()) for h in heard)
    errors = sum(h.wer * len(h.reference.split()) for h in heard)
    audio = sum(h.audio_seconds for h in heard)
    took = sum(h.decode_seconds for h in heard)
    print(f"  overall WER {errors / words:.2f} ({words} words), mean per sentence "
          f"{sum(h.wer for h in heard) / len(heard):.2f}; RTF {took / audio:.2f} ({audio:.1f} s audio)")


def main() -> None:
    run_in_worker_venv("bench.bench_captions", run)


if __name__ == "__main__":
    main()
