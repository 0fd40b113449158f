"""Barge-in mode's provisional speech start: one window, then confirmed or retracted."""

from __future__ import annotations

import numpy as np

from app.audio.vad import BARGE_IN_MIN_SPEECH_MS, VAD_RATE, WINDOW, VadEdge, VoiceActivityDetector
from tests.helpers.scripted_scorer import ScriptedScorer, run_scripted_vad


def _run(
    probs: list[float], barge_in: bool = True, gate: np.ndarray | None = None
) -> list[tuple[VadEdge, int]]:
    """Every edge with the number of samples fed when it was decided (barge-in by default)."""
    return run_scripted_vad(probs, barge_in, gate)


def test_speech_under_barge_in_is_reported_after_one_window_then_confirmed_silently() -> None:
    edges = _run([0.0] * 5 + [0.9] * 10 + [0.0] * 20)
    starts = [(e, at) for e, at in edges if e.started]
    assert [e for e, _ in starts] == [VadEdge(True, 5 * WINDOW, provisional=True)]
    # Decided with the first speech window, before the confirmation (two windows) was possible.
    assert starts[0][1] < 5 * WINDOW + BARGE_IN_MIN_SPEECH_MS * VAD_RATE // 1000
    stops = [e for e, _ in edges if not e.started]
    assert stops == [VadEdge(False, 15 * WINDOW)]  # the ordinary end, not a retraction


def test_a_one_window_blip_is_retracted_by_the_next_window() -> None:
    edges = _run([0.0] * 5 + [0.9] + [0.0] * 20)
    assert [e for e, _ in edges] == [
        VadEdge(True, 5 * WINDOW, provisional=True),
        VadEdge(False, 6 * WINDOW, provisional=True),
    ]
    assert edges[1][1] <= 7 * WINDOW + 160  # retracted as soon as the next window is scored


def test_a_window_between_the_thresholds_keeps_the_provisional_start() -> None:
    edges = _run([0.0] * 5 + [0.9, 0.4] + [0.0] * 20)
    assert [(e.started, e.provisional) for e, _ in edges] == [(True, True), (False, False)]


def test_a_retracted_blip_does_not_block_the_next_start() -> None:
    edges = _run([0.0] * 5 + [0.9] + [0.0] * 3 + [0.9] * 5 + [0.0] * 20)
    assert [(e.started, e.sample, e.provisional) for e, _ in edges] == [
        (True, 5 * WINDOW, True),
        (False, 6 * WINDOW, True),
        (True, 9 * WINDOW, True),
        (False, 14 * WINDOW, False),
    ]


def test_no_provisional_start_outside_barge_in_mode() -> None:
    edges = _run([0.0] * 5 + [0.9] * 10 + [0.0] * 20, barge_in=False)
    assert [(e.started, e.provisional) for e, _ in edges] == [(True, False), (False, False)]
    assert _run([0.0] * 5 + [0.9] + [0.0] * 20, barge_in=False) == []


def test_no_provisional_start_while_the_gate_is_closed() -> None:
    probs = [0.0] * 5 + [0.9] * 10 + [0.0] * 20
    gate = np.zeros(len(probs) * WINDOW, np.bool_)
    gate[8 * WINDOW :] = True
    edges = _run(probs, gate=gate)
    starts = [(e, at) for e, at in edges if e.started]
    # The gate opened after the minimum: a confirmed start with the early stamp, no retraction.
    assert [e for e, _ in starts] == [VadEdge(True, 5 * WINDOW)]
    assert starts[0][1] > 8 * WINDOW


def test_reset_forgets_a_pending_provisional_start() -> None:
    vad = VoiceActivityDetector(0.5, 200, 300, scorer=ScriptedScorer([0.0] * 2 + [0.9] + [0.0] * 9))
    vad.barge_in = True
    edges = vad.process(np.zeros(3 * WINDOW, np.float32))
    assert edges == [VadEdge(True, 2 * WINDOW, provisional=True)]
    vad.reset()
    assert not vad.speaking
    assert vad.process(np.zeros(4 * WINDOW, np.float32)) == []
