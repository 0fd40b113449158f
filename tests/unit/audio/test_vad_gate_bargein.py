"""VAD barge-in mode (shorter minimum speech) and the DSP's speech gate, on scripted scores."""

from __future__ import annotations

import numpy as np

from app.audio.vad import BARGE_IN_MIN_SPEECH_MS, WINDOW, VoiceActivityDetector
from tests.helpers.scripted_scorer import ScriptedScorer, run_scripted_vad


def _run(
    probs: list[float], gate: np.ndarray | None = None, barge_in: bool = False
) -> list[tuple[bool, int, int]]:
    """(started, stamped sample, samples fed when decided) for every edge."""
    return [(e.started, e.sample, n) for e, n in run_scripted_vad(probs, barge_in, gate)]


def test_barge_in_mode_accepts_a_short_onset_the_normal_mode_ignores() -> None:
    probs = [0.0] * 5 + [0.9] * 3 + [0.0] * 20  # 96 ms of speech
    assert _run(probs) == []
    edges = _run(probs, barge_in=True)
    assert [(s, at) for s, at, _ in edges] == [(True, 5 * WINDOW), (False, 8 * WINDOW)]
    # Decided after BARGE_IN_MIN_SPEECH_MS (two windows), not after the configured 200 ms.
    assert edges[0][2] - 5 * WINDOW <= BARGE_IN_MIN_SPEECH_MS * 16 + 160


def test_barge_in_mode_never_lengthens_a_shorter_configured_minimum() -> None:
    vad = VoiceActivityDetector(0.5, 32, 300, scorer=ScriptedScorer([0.0] * 4 + [0.9] + [0.0] * 20))
    vad.barge_in = True
    edges = []
    audio = np.zeros(25 * WINDOW, np.float32)
    for i in range(0, len(audio), WINDOW):
        edges += vad.process(audio[i : i + WINDOW])
    assert [e.started for e in edges] == [True, False]


def test_closed_gate_blocks_speech_start() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 20
    gate = np.zeros(len(probs) * WINDOW, np.bool_)
    assert _run(probs, gate) == []


def test_gate_opening_late_starts_speech_with_the_early_onset_stamp() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 20
    gate = np.zeros(len(probs) * WINDOW, np.bool_)
    gate[12 * WINDOW + 100 :] = True  # opens mid-window 12
    edges = _run(probs, gate)
    assert [(s, at) for s, at, _ in edges] == [(True, 5 * WINDOW), (False, 25 * WINDOW)]
    assert edges[0][2] >= 12 * WINDOW + 100  # not decided before the gate opened


def test_gate_seen_before_the_candidate_does_not_count() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 20
    gate = np.zeros(len(probs) * WINDOW, np.bool_)
    gate[: 3 * WINDOW] = True  # open only long before the speech
    assert _run(probs, gate) == []


def test_gate_is_kept_across_odd_block_sizes() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 20
    gate = np.zeros(len(probs) * WINDOW, np.bool_)
    gate[8 * WINDOW + 500 : 8 * WINDOW + 510] = True  # ten samples, straddling block edges
    vad = VoiceActivityDetector(0.5, 200, 300, scorer=ScriptedScorer(probs))
    audio = np.zeros(len(probs) * WINDOW, np.float32)
    edges = []
    for i in range(0, len(audio), 333):
        edges += vad.process(audio[i : i + 333], gate[i : i + 333])
    assert [(e.started, e.sample) for e in edges] == [(True, 5 * WINDOW), (False, 25 * WINDOW)]
