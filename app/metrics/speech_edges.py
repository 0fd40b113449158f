"""Where the user's speech really ended, on the capture clock, for the latency meter.

A VAD decides late and coarsely: silero scores 32 ms windows and its probability trails the voice
after speech stops, so the server VAD's ``audio_end_ms`` minus the silence (or the local VAD's
stop stamp) lands ~100 ms after the last sound. A meter built on that stamp reports a
voice-to-voice time shorter than what the user lives through.

:class:`MicLevels` keeps the level of the recent cleaned mic audio in 5 ms windows on the capture
clock (at unity gain where the capture pipeline provides it: the AGC lifts a fading tail more
than the loud middle of a word) and moves the VAD's end stamp to the audible end near it: the
last window within 35 dB of the utterance's loudest one and at least 10 dB above the silence that
followed, searched only a bounded distance around the VAD's stamp. With no clear speech there (a
silent mic, a level history that does not cover the stamp) the VAD's own stamp is returned
unchanged.

Thread: one owner (the session loop); nothing here blocks or allocates per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.events import LEVEL_WINDOW_S

HISTORY_S = 6.0
"""How much mic audio the levels cover."""
BELOW_PEAK_DB = 35.0
"""A window this far below the utterance's loudest one is not speech any more."""
ABOVE_FLOOR_DB = 10.0
"""Speech stands at least this far above the background (noise, residual echo)."""
END_LOOKBACK_S = 0.4
"""The audible end is searched at most this long before the VAD's stamp ..."""
END_LOOKAHEAD_S = 0.064
"""... and this long after it (two silero windows: the stamp is window-quantised)."""
_SILENT_DB = -200.0


class MicLevels:
    """Recent mic levels (dBFS per 5 ms window) with the monotonic time of each window's start.

    Args:
        history_s: how much audio is kept.
        window_s: level window length.
    """

    def __init__(self, history_s: float = HISTORY_S, window_s: float = LEVEL_WINDOW_S) -> None:
        self._window_s = window_s
        size = max(1, round(history_s / window_s))
        self._t = np.zeros(size, dtype=np.float64)
        self._db = np.full(size, _SILENT_DB, dtype=np.float64)
        self._count = 0

    def add(self, pcm16: bytes, sample_rate: int, captured_at: float) -> None:
        """Add a chunk of PCM16 mono audio whose first sample hit the ADC at ``captured_at``."""
        x = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2")
        win = max(1, round(sample_rate * self._window_s))
        k = len(x) // win
        if k == 0:
            return
        blocks = x[: k * win].astype(np.float64).reshape(k, win) / 32768.0
        power = np.mean(blocks * blocks, axis=1)
        self._store(captured_at, win / sample_rate, 10.0 * np.log10(np.maximum(power, 1e-20)))

    def add_levels(self, at: float, levels_db: Sequence[float]) -> None:
        """Add levels (dBFS) of consecutive windows of this history's length, the first at ``at``.

        The capture pipeline's unity-gain levels (``AudioChunk.levels_db``): the talker's own
        dynamics, where the sent audio's are compressed by the AGC.
        """
        if levels_db:
            self._store(at, self._window_s, np.asarray(levels_db, dtype=np.float64))

    def _store(self, at: float, step: float, db: npt.NDArray[np.float64]) -> None:
        """Append window levels ``db``, the first at ``at`` and each ``step`` s after the last."""
        k = len(db)
        idx = (self._count + np.arange(k)) % len(self._t)
        self._t[idx] = at + np.arange(k) * step
        self._db[idx] = db
        self._count += k

    def _ordered(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        size = len(self._t)
        idx = np.arange(max(0, self._count - size), self._count) % size
        return self._t[idx], self._db[idx]

    def speech_end(self, vad_end: float) -> float:
        """The middle of the last audible window of the speech a VAD says ended at ``vad_end``."""
        t, db = self._ordered()
        speech = (t >= vad_end - 2.0) & (t < vad_end)
        if not speech.any():
            return vad_end
        peak = float(db[speech].max())
        after = (t >= vad_end + END_LOOKAHEAD_S) & (t < vad_end + END_LOOKAHEAD_S + 0.3)
        if np.count_nonzero(after) >= 10:  # the silence that ended the turn
            floor = float(np.percentile(db[after], 50))
        else:
            floor = float(np.percentile(db[speech], 10))
        thr = max(peak - BELOW_PEAK_DB, floor + ABOVE_FLOOR_DB)
        if peak < thr:
            return vad_end
        near = (t >= vad_end - END_LOOKBACK_S) & (t < vad_end + END_LOOKAHEAD_S) & (db >= thr)
        hits = np.flatnonzero(near)
        if hits.size == 0:
            return vad_end
        return float(t[hits[-1]]) + self._window_s / 2
