"""The capture pipeline dates a speech start back to the DSP's near-talker onset, within bounds."""

from __future__ import annotations

import numpy as np

from app.audio.dsp.base import DspBackend, DspFrame, Frame
from app.audio.dspconfig import DspConfig
from app.audio.pipeline import DSP_RATE, EVIDENCE_LOOKBACK, ONSET_LOOKBACK, CapturePipeline
from app.audio.vad import WINDOW, VoiceActivityDetector
from app.events import SpeechStarted


class OnsetBackend(DspBackend):
    """Passes the mic through and reports a fixed near-talker onset and evidence (or none)."""

    name = "stub"

    def __init__(self, onset: int | None, evidence: int | None = None) -> None:
        super().__init__(DSP_RATE)
        self.near_onset_sample = onset
        self.near_evidence_sample = evidence

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
    return _start(near_onset).at


def _start(
    near_onset: int | None, near_evidence: int | None = None, speech_window: int = 20
) -> SpeechStarted:
    """The SpeechStarted the pipeline reports (times in seconds from the first sample)."""
    pipe = CapturePipeline(DspConfig(backend="speex"), DSP_RATE, DSP_RATE)
    pipe._backend.close()
    pipe._backend = OnsetBackend(near_onset, near_evidence)
    pipe._vad = VoiceActivityDetector(0.5, 64, 300, scorer=Scripted(speech_window))
    block = np.zeros(DSP_RATE // 100, np.float32)
    try:
        for k in range(100):
            for ev in pipe.process(block, block, k / 100):
                if isinstance(ev, SpeechStarted):
                    return ev
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


def test_an_onset_dated_well_past_the_vad_start_is_kept_within_the_lookback() -> None:
    # Over loud echo the VAD starts 250–400 ms into the speech; the dating must reach that far.
    vad_onset = 20 * WINDOW
    plain = _start_at(None)
    dated = _start_at(vad_onset - ONSET_LOOKBACK + 160)
    assert abs((plain - dated) - (ONSET_LOOKBACK - 160) / DSP_RATE) < 0.002
    assert ONSET_LOOKBACK >= DSP_RATE * 350 // 1000


def test_the_evidence_is_stamped_apart_from_the_onset_within_its_own_lookback() -> None:
    vad_onset = 20 * WINDOW
    plain = _start(None)
    assert plain.evidence_at == plain.at  # no DSP marks: both are the VAD's start
    both = _start(vad_onset - 4800, vad_onset - 1600)  # onset 300 ms, evidence 100 ms back
    assert abs((plain.at - both.at) - 0.3) < 0.002
    assert both.evidence_at is not None
    assert abs((plain.at - both.evidence_at) - 0.1) < 0.002
    far = _start(vad_onset - 4800, vad_onset - EVIDENCE_LOOKBACK - 16)  # evidence too far back
    assert far.evidence_at == plain.at
