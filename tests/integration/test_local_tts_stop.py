"""A cancelled answer aborts piper mid-sentence, so the voice thread is free for the next one."""

from __future__ import annotations

import threading
import time

import pytest

from app.local.tts import PiperSynthesizer, StopSignal, synthesize_all

pytestmark = pytest.mark.slow

LONG = (
    "This is a rather long sentence that keeps going on and on about timers, dates, units "
    "and the weather, so that synthesising it takes a good while on this machine."
)


def test_stop_aborts_piper_mid_sentence_and_the_voice_keeps_working() -> None:
    tts = PiperSynthesizer()
    synthesize_all(tts, "Warm up.", 1.0, StopSignal())
    started = time.perf_counter()
    whole = synthesize_all(tts, LONG, 1.0, StopSignal())
    whole_s = time.perf_counter() - started
    assert sum(len(c) for c in whole) > 24000 * 2 * 5  # several seconds of speech

    stop = StopSignal()
    timer = threading.Timer(0.02, stop.set)
    started = time.perf_counter()
    timer.start()
    cut = synthesize_all(tts, LONG, 1.0, stop)
    cut_s = time.perf_counter() - started
    timer.join(5)
    assert cut == []
    assert cut_s < whole_s / 2, (cut_s, whole_s)

    after = synthesize_all(tts, "Still here.", 1.0, StopSignal())
    assert sum(len(c) for c in after) > 24000  # the next answer is whole
