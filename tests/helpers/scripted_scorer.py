"""A VAD scorer that returns scripted probabilities: pure unit tests of the VAD's hysteresis."""

from __future__ import annotations

import numpy as np

from app.audio.vad import WINDOW, VadEdge, VoiceActivityDetector


class ScriptedScorer:
    """Returns ``probs[i]`` for the i-th window it scores (0 after the script)."""

    def __init__(self, probs: list[float]) -> None:
        self.probs = probs
        self.i = 0

    def __call__(self, window: np.ndarray) -> float:
        assert len(window) == WINDOW
        p = self.probs[self.i] if self.i < len(self.probs) else 0.0
        self.i += 1
        return p


def run_scripted_vad(
    probs: list[float], barge_in: bool, gate: np.ndarray | None = None
) -> list[tuple[VadEdge, int]]:
    """Every edge of a VAD fed ``probs`` (10 ms blocks), with the samples fed when decided."""
    vad = VoiceActivityDetector(0.5, 200, 300, scorer=ScriptedScorer(probs))
    vad.barge_in = barge_in
    audio = np.zeros(len(probs) * WINDOW, np.float32)
    out = []
    for i in range(0, len(audio), 160):
        g = gate[i : i + 160] if gate is not None else None
        out += [(e, i + 160) for e in vad.process(audio[i : i + 160], g)]
    return out
