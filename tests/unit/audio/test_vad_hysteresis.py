"""VAD hysteresis: short blips ignored, minimum silence respected, edges stamped in samples."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.vad import WINDOW, VoiceActivityDetector
from app.harness.speech import SpeechFixtures
from tests.helpers.scripted_scorer import ScriptedScorer

RATE = 16000


def _edges(probs: list[float], **kw: int) -> list[tuple[bool, int]]:
    vad = VoiceActivityDetector(scorer=ScriptedScorer(probs), **kw)  # type: ignore[arg-type]
    audio = np.zeros(len(probs) * WINDOW, np.float32)
    out = []
    for i in range(0, len(audio), 160):  # odd block size on purpose: 160 is not a window
        out += [(e.started, e.sample) for e in vad.process(audio[i : i + 160])]
    return out


def test_short_blip_is_ignored() -> None:
    probs = [0.0] * 5 + [0.9] * 3 + [0.0] * 20  # 96 ms of "speech" < 200 ms minimum
    assert _edges(probs, min_speech_ms=200, min_silence_ms=300) == []


def test_speech_start_is_stamped_at_the_onset_window() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 30
    edges = _edges(probs, min_speech_ms=200, min_silence_ms=300)
    assert edges == [(True, 5 * WINDOW), (False, 25 * WINDOW)]


def test_gap_shorter_than_min_silence_does_not_split_speech() -> None:
    probs = [0.9] * 10 + [0.0] * 5 + [0.9] * 10 + [0.0] * 40  # 160 ms gap < 500 ms
    edges = _edges(probs, min_speech_ms=100, min_silence_ms=500)
    assert edges == [(True, 0), (False, 25 * WINDOW)]


def test_gap_longer_than_min_silence_splits_speech() -> None:
    probs = [0.9] * 10 + [0.0] * 20 + [0.9] * 10 + [0.0] * 40  # 640 ms gap > 500 ms
    edges = _edges(probs, min_speech_ms=100, min_silence_ms=500)
    assert edges == [(True, 0), (False, 10 * WINDOW), (True, 30 * WINDOW), (False, 40 * WINDOW)]


def test_probability_between_thresholds_keeps_the_current_state() -> None:
    # 0.4 lies between off (0.35) and on (0.5): neither starts nor ends speech.
    probs = [0.4] * 10 + [0.9] * 10 + [0.4] * 30 + [0.0] * 30
    edges = _edges(probs, min_speech_ms=100, min_silence_ms=300)
    assert edges == [(True, 10 * WINDOW), (False, 50 * WINDOW)]


@pytest.fixture(scope="module")
def utterance(speech: SpeechFixtures) -> np.ndarray:
    clip, rate = SpeechFixtures.load(speech.say("Please set a timer for ten minutes.", "espeak"))
    assert rate == RATE
    return clip


def _speech_bounds(clip: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(clip) > 0.02)
    return int(loud[0]), int(loud[-1])


def test_silero_finds_speech_between_silences(utterance: np.ndarray) -> None:
    lead = RATE  # 1 s of silence (with faint noise) before and after
    noise = np.random.default_rng(0).standard_normal(2 * lead + len(utterance)) * 1e-3
    audio = noise.astype(np.float32)
    audio[lead : lead + len(utterance)] += utterance
    vad = VoiceActivityDetector(threshold=0.5, min_speech_ms=200, min_silence_ms=300)
    edges = []
    for i in range(0, len(audio), 160):
        edges += vad.process(audio[i : i + 160])
    on, off = _speech_bounds(utterance)
    assert [e.started for e in edges] == [True, False]
    # Onset within 100 ms of the first loud sample; stop within 250 ms of the last one.
    assert abs(edges[0].sample - (lead + on)) <= RATE // 10
    assert abs(edges[1].sample - (lead + off)) <= RATE // 4


def test_silero_ignores_a_click(utterance: np.ndarray) -> None:
    audio = np.zeros(2 * RATE, np.float32)
    audio[RATE : RATE + 800] = utterance[_speech_bounds(utterance)[0] :][:800]  # 50 ms of speech
    vad = VoiceActivityDetector(threshold=0.5, min_speech_ms=200, min_silence_ms=300)
    edges = []
    for i in range(0, len(audio), 160):
        edges += vad.process(audio[i : i + 160])
    assert edges == []
