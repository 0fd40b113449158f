"""ServerVad segmentation with an energy scorer on generated audio (pure, fast)."""

from __future__ import annotations

import numpy as np

from app.local.config import TurnDetection
from app.local.vad import ServerVad, VadDecision


class EnergyScorer:
    """Speech probability from frame RMS: a stand-in for silero on synthetic tones."""

    window = 512

    def score(self, frame: np.ndarray) -> float:
        return 1.0 if float(np.sqrt(np.mean(frame**2))) > 0.05 else 0.0

    def reset(self) -> None:
        pass


def pcm(pattern: list[tuple[str, int]]) -> bytes:
    parts = []
    for kind, ms in pattern:
        n = ms * 24
        if kind == "tone":
            t = np.arange(n) / 24000
            parts.append(0.3 * np.sin(2 * np.pi * 220 * t))
        else:
            parts.append(np.zeros(n))
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


def run(vad: ServerVad, audio: bytes, chunk_ms: int = 40) -> list[VadDecision]:
    out = []
    for start in range(0, len(audio), chunk_ms * 48):
        out += vad.feed(audio[start : start + chunk_ms * 48])
    return out


def test_one_turn_has_padded_start_and_silence_inclusive_end() -> None:
    vad = ServerVad(TurnDetection(prefix_padding_ms=300, silence_duration_ms=500), EnergyScorer())
    decisions = run(vad, pcm([("sil", 1000), ("tone", 800), ("sil", 1000)]))
    assert [d.kind for d in decisions] == ["started", "stopped"]
    start, stop = decisions
    assert abs(start.ms - (1000 - 300)) <= 40
    assert abs(stop.ms - (1800 + 500)) <= 70


def test_pause_shorter_than_silence_duration_keeps_one_turn() -> None:
    vad = ServerVad(TurnDetection(silence_duration_ms=500), EnergyScorer())
    audio = pcm([("sil", 500), ("tone", 400), ("sil", 300), ("tone", 400), ("sil", 800)])
    assert [d.kind for d in run(vad, audio)] == ["started", "stopped"]


def test_two_turns_and_padding_never_before_floor() -> None:
    vad = ServerVad(TurnDetection(prefix_padding_ms=300, silence_duration_ms=200), EnergyScorer())
    audio = pcm([("tone", 300), ("sil", 400), ("tone", 300), ("sil", 400)])
    decisions = run(vad, audio)
    assert [d.kind for d in decisions] == ["started", "stopped", "started", "stopped"]
    assert decisions[0].ms == 0  # padding clipped at the session start
    assert decisions[2].ms >= decisions[1].ms - 300


def test_clicks_shorter_than_minimum_speech_are_ignored() -> None:
    vad = ServerVad(TurnDetection(), EnergyScorer())
    assert run(vad, pcm([("sil", 300), ("tone", 20), ("sil", 1000)])) == []


def test_threshold_above_scores_never_triggers() -> None:
    class Half(EnergyScorer):
        def score(self, frame: np.ndarray) -> float:
            return 0.5 * super().score(frame)

    vad = ServerVad(TurnDetection(threshold=0.6), Half())
    assert run(vad, pcm([("tone", 1000), ("sil", 1000)])) == []
    vad.configure(TurnDetection(threshold=0.4))
    assert [d.kind for d in run(vad, pcm([("tone", 1000), ("sil", 1000)]))] == [
        "started",
        "stopped",
    ]


def test_silence_ms_grows_only_inside_a_turn() -> None:
    vad = ServerVad(TurnDetection(silence_duration_ms=1000), EnergyScorer())
    run(vad, pcm([("tone", 500), ("sil", 300)]))
    assert vad.in_speech and 200 <= vad.silence_ms <= 330
    vad.force_stop()
    assert vad.silence_ms == 0 and not vad.in_speech
