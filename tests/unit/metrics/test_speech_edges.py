"""Speech end for the meter: the VAD's end stamp moved to the audible end of the mic audio."""

from __future__ import annotations

import numpy as np
import pytest

from app.events import AudioChunk
from app.metrics.latency import LatencyMeter
from app.metrics.speech_edges import MicLevels
from app.session.latency_marks import TurnMarks

RATE = 24000
CHUNK = RATE // 50  # 20 ms
T0 = 100.0  # capture time of the first sample


def _signal(parts: list[tuple[float, float]], seed: int = 1) -> np.ndarray:
    """Noise in consecutive ``(seconds, dBFS)`` stretches (RMS exactly at that level)."""
    rng = np.random.default_rng(seed)
    out = []
    for seconds, dbfs in parts:
        n = round(seconds * RATE)
        x = rng.standard_normal(n)
        x *= 10 ** (dbfs / 20) / np.sqrt(np.mean(x * x))
        out.append(x)
    return np.concatenate(out)


def _chunks(x: np.ndarray) -> list[AudioChunk]:
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    return [
        AudioChunk(pcm[i : i + CHUNK].tobytes(), RATE, i, T0 + i / RATE)
        for i in range(0, len(pcm) - CHUNK + 1, CHUNK)
    ]


def _levels(x: np.ndarray) -> MicLevels:
    levels = MicLevels()
    for c in _chunks(x):
        levels.add(c.pcm, c.sample_rate, c.captured_at)
    return levels


# A question: background at -70 dBFS, speech at -20, a soft tail at -45 until 2.08 s, silence.
QUESTION = [(1.0, -70.0), (1.0, -20.0), (0.08, -45.0), (1.0, -70.0)]
QUESTION_END = T0 + 2.08


def test_speech_end_moves_a_late_vad_stamp_back_to_the_last_audible_sample():
    levels = _levels(_signal(QUESTION))
    vad_end = QUESTION_END + 0.11  # silero's probability trails the voice
    assert levels.speech_end(vad_end) == pytest.approx(QUESTION_END, abs=0.006)


def test_window_levels_from_the_pipeline_place_the_end_as_the_audio_does():
    x = _signal(QUESTION)
    win = round(RATE * 0.005)
    power = np.mean(np.square(x[: len(x) // win * win].reshape(-1, win)), axis=1)
    levels = MicLevels()
    levels.add_levels(T0, (10 * np.log10(np.maximum(power, 1e-20))).tolist())
    vad_end = QUESTION_END + 0.11
    assert levels.speech_end(vad_end) == pytest.approx(_levels(x).speech_end(vad_end), abs=1e-9)
    assert levels.speech_end(vad_end) == pytest.approx(QUESTION_END, abs=0.006)


@pytest.mark.parametrize("into_window", [0.3, 0.5, 0.7, 0.9])
def test_speech_end_is_off_by_at_most_half_a_window_wherever_the_sound_stops(into_window):
    # The last audible sample falls ``into_window`` of the way into a 5 ms level window.
    end_s = 2.08 + into_window * 0.005
    levels = _levels(_signal([(1.0, -70.0), (1.0, -20.0), (end_s - 2.0, -45.0), (1.0, -70.0)]))
    assert levels.speech_end(T0 + end_s + 0.11) == pytest.approx(T0 + end_s, abs=0.0026)


def test_speech_end_moves_an_early_stamp_forward_by_at_most_the_lookahead():
    levels = _levels(_signal(QUESTION))
    assert levels.speech_end(QUESTION_END - 0.03) == pytest.approx(QUESTION_END, abs=0.006)


def test_speech_end_keeps_the_stamp_without_speech_or_history():
    silent = _levels(_signal([(3.0, -70.0)]))
    assert silent.speech_end(T0 + 2.0) == T0 + 2.0
    assert MicLevels().speech_end(5.0) == 5.0
    levels = _levels(_signal(QUESTION))
    assert levels.speech_end(T0 + 50.0) == T0 + 50.0  # far outside the history


class _Playback:
    def onset_at(self, item_id: str, final: bool = False) -> float | None:
        return None

    def last_audible_at(self) -> float | None:
        return None


def _marks(x: np.ndarray, meter: LatencyMeter) -> TurnMarks:
    marks = TurnMarks(meter, _Playback(), clock=lambda: T0 + 10.0)  # type: ignore[arg-type]
    for chunk in _chunks(x):
        marks.mic_audio(chunk)
    return marks


def test_voice_to_voice_counts_from_the_audible_end_of_speech():
    meter = LatencyMeter()
    marks = _marks(_signal(QUESTION), meter)
    marks.mark("speech_end", marks.vad_speech_end(QUESTION_END + 0.11))
    marks.mark("onset", QUESTION_END + 0.8)
    v2v = meter.snapshot().segment("voice_to_voice").last
    assert v2v == pytest.approx(800.0, abs=6.0)


def test_the_marks_use_the_chunks_unity_gain_levels_over_their_pcm():
    """A chunk's ``levels_db`` (before the AGC) place the end, not the level of what was sent."""
    x = _signal(QUESTION)
    win = round(RATE * 0.005)
    per_chunk = CHUNK // win
    power = np.mean(np.square(x[: len(x) // win * win].reshape(-1, win)), axis=1)
    db = (10 * np.log10(np.maximum(power, 1e-20))).tolist()
    lifted = _signal([(3.08, -20.0), (1.0, -70.0)])  # what an AGC might send: a flat level
    marks = TurnMarks(None, _Playback(), clock=lambda: T0 + 10.0)  # type: ignore[arg-type]
    for n, chunk in enumerate(_chunks(lifted)):
        levels = tuple(db[n * per_chunk : (n + 1) * per_chunk])
        marks.mic_audio(AudioChunk(chunk.pcm, RATE, chunk.first_sample, chunk.captured_at,
                                   levels, T0 + n * CHUNK / RATE))  # fmt: skip
    assert marks.vad_speech_end(QUESTION_END + 0.11) == pytest.approx(QUESTION_END, abs=0.006)
