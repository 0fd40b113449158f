"""Automatic gain control applied after echo cancellation, adapted on the user's speech only.

The hybrid backend cannot let its two cancellers run their own AGC: its double-talk detector
compares their output levels with the microphone level, and a canceller's AGC lifts residual echo
by up to ``agc_max_gain_db`` so that echo alone looks like the user talking (measured on the
PulseAudio echo loop: with the cancellers' AGC on, nearly every spoken answer cut itself off;
with it off, none). So both cancellers run at unity gain and this stage brings the upstream
signal to the target level afterwards, learning the level only on frames the detector attributes
to the user (never on echo, never on silence). The VAD keeps listening to the unity-gain signal.
"""

from __future__ import annotations

import math

import numpy as np

from app.audio.dsp.base import Frame

LEVEL_FLOOR_DBFS = -55.0  # quieter frames say nothing about the talker's level
LEVEL_ATTACK = 0.3  # per frame, towards a louder frame
LEVEL_RELEASE = 0.02  # per frame, towards a quieter frame
GAIN_UP_DB = 0.1  # per 10 ms frame: 10 dB/s
GAIN_DOWN_DB = 1.0  # per 10 ms frame: quick to back off
PEAK_CEILING = 0.9  # linear peak the gain never pushes a frame beyond


class SpeechAgc:
    """Slow speech-level AGC with a peak limiter, fed 10 ms frames.

    Args:
        target_dbfs: RMS level the user's speech is brought to.
        max_gain_db: largest gain applied (never below 0 dB: the stage only amplifies).
        frame_size: samples per frame.

    Attributes:
        gain_db: gain applied to the last frame.
        level_dbfs: tracked speech level (None until the user was heard).
    """

    def __init__(self, target_dbfs: float, max_gain_db: float, frame_size: int) -> None:
        self.target_dbfs = target_dbfs
        self.max_gain_db = max(0.0, max_gain_db)
        self.gain_db = 0.0
        self.level_dbfs: float | None = None
        self._gain = 1.0
        self._ramp = np.arange(1, frame_size + 1, dtype=np.float32) / frame_size
        self._g = np.zeros(frame_size, dtype=np.float32)
        self._out = np.zeros(frame_size, dtype=np.float32)

    def process(self, x: Frame, speech: bool) -> Frame:
        """Return ``x`` with the current gain (ramped from the last frame's); adapt on speech.

        The returned array is reused by the next call.
        """
        power = float(np.dot(x, x)) / len(x)
        frame_db = 10.0 * math.log10(power) if power > 1e-12 else -120.0
        if speech and frame_db > LEVEL_FLOOR_DBFS:
            lvl = self.level_dbfs
            if lvl is None:
                self.level_dbfs = frame_db
            else:
                k = LEVEL_ATTACK if frame_db > lvl else LEVEL_RELEASE
                self.level_dbfs = lvl + k * (frame_db - lvl)
        want = self.gain_db
        if self.level_dbfs is not None:
            want = min(self.max_gain_db, max(0.0, self.target_dbfs - self.level_dbfs))
        step = want - self.gain_db
        gain_db = self.gain_db + max(-GAIN_DOWN_DB, min(GAIN_UP_DB, step))
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 0.0:  # limiter: this frame's peak stays below the ceiling
            gain_db = min(gain_db, max(0.0, 20.0 * math.log10(PEAK_CEILING / peak)))
        self.gain_db = gain_db
        new = 10.0 ** (gain_db / 20.0)
        out = self._out
        if new == self._gain:
            np.multiply(x, new, out=out)
        else:
            np.multiply(self._ramp, new - self._gain, out=self._g)
            self._g += self._gain
            np.multiply(x, self._g, out=out)
            self._gain = new
        np.clip(out, -1.0, 1.0, out=out)
        return out
