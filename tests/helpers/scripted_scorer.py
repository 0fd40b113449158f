"""A VAD scorer that returns scripted probabilities: pure unit tests of the VAD's hysteresis."""

from __future__ import annotations

import numpy as np

from app.audio.vad import WINDOW


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
