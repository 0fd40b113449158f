"""The capture pipeline dates a speech start back to the DSP's near-talker onset, within bounds."""

from __future__ import annotations

import numpy as np

from app.audio.dsp.base import DspBackend, DspFrame, Frame
from app.audio.dspconfig import DspConfig
from app.audio.pipeline import DSP_RATE, ONSET_LOOKBACK, CapturePipeline
from app.audio.vad import WINDOW, VoiceActivityDetector
from app.events import SpeechStarted


class OnsetBackend(DspBackend):
    """Passes the mic through and reports a fixed near-talker onset (or none)."""

    name = "stub"

    def __init__(self, onset: int | None) -> None:
        super().__init__(DSP_RATE)
        self.near_onset_sample = onset

    def process(self, near: Frame, far: Frame) -> DspFrame:
        return DspFrame(near, near, True)


class Scripted:
    """Speech probability 0.9 from window ``first`` on."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.i = 0

    def __call__(self, window: np.ndarray) -> float:
        self.i += 1
        return 0.9 if self.i > self.first else 0.0


def _start_at(near_onset: int | None, speech_window: int = 20) -> float:
    """Seconds (from the first sample) of the SpeechStarted the pipeline reports."""
    pipe = CapturePipeline(DspConfig(backend="speex"), DSP_RATE, DSP_RATE)
    pipe._backend.close()
    pipe._backend = OnsetBackend(near_onset)
    pipe._vad = VoiceActivityDetector(0.5, 64, 300, scorer=Scripted(speech_window))
    block = np.zeros(DSP_RATE // 100, np.float32)
    try:
        for k in range(100):
            for ev in pipe.process(block, block, k / 100):
                if isinstance(ev, SpeechStarted):
                    return ev.at
    finally:
        pipe.close()
    raise AssertionError("no speech start")


def test_a_start_is_dated_back_to_the_near_onset() -> None:
    vad_onset = 20 * WINDOW
    plain = _start_at(None)
    assert abs(plain - vad_onset / DSP_RATE) < 0.002
    dated = _start_at(vad_onset - 1600)  # the DSP saw the user 100 ms earlier
    assert abs((plain - dated) - 0.1) < 0.002


def test_an_onset_beyond_the_lookback_or_after_the_start_is_ignored() -> None:
    vad_onset = 20 * WINDOW
    plain = _start_at(None)
    assert _start_at(vad_onset - ONSET_LOOKBACK - 16) == plain
    assert _start_at(vad_onset + 160) == plain
