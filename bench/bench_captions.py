"""Live captions (issue 14): word error rate and real-time factor of the embedded engines
(``embedded``: Whisper tiny.en on CTranslate2; ``pocketsphinx`` 5.1.1, its bundled en-us model)
on fixed espeak-ng sentences, fed as the worker
feeds it: 48 kHz mono int16 in 20 ms frames, resampled to 16 kHz inside the engine; the final
words re-decode the whole utterance. RTF = decode time / audio time, one core, no LiveKit.

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
