"""Synthetic-echo measurements of one DSP backend: ERLE, VAD false triggers, barge-in recall, WER.

The scene (see ``echo_scene``) has continuous far-end speech; the first ``echo_only_s`` seconds
are echo only, then near utterances arrive every few seconds on top of it (double talk).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.audio.dsp import create_backend
from app.audio.dspconfig import DspConfig
from app.audio.vad import WINDOW, VoiceActivityDetector, silero_scorer
from app.bench.echo_scene import EchoScene
from app.bench.stats import erle_db, wer

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Transcriber = Callable[[FloatArray], str]
RATE = 16000
FRAME = 160
BARGE_IN_WINDOW_S = 0.3


@dataclass(frozen=True, slots=True)
class SynthResult:
    """Figures for one backend on one scene."""

    erle_db: float
    vad_echo_false_pct: float
    bargein_recall_pct: float
    doubletalk_wer: float
    dsp_ms_per_frame: float


def run_backend(
    config: DspConfig, scene: EchoScene
) -> tuple[FloatArray, FloatArray, BoolArray, float]:
    """Process the scene in 10 ms frames; return (upstream, detect, gate, mean ms per frame)."""
    be = create_backend(config, RATE)
    be.set_assistant_speaking(True)  # the far end plays throughout the scene
    n = len(scene.mic) // FRAME * FRAME
    up = np.zeros(n, np.float32)
    det = np.zeros(n, np.float32)
    gate = np.zeros(n, np.bool_)
    spent = 0.0
    for i in range(0, n, FRAME):
        t0 = time.perf_counter()
        out = be.process(scene.mic[i : i + FRAME], scene.far[i : i + FRAME])
        spent += time.perf_counter() - t0
        up[i : i + FRAME] = out.upstream
        det[i : i + FRAME] = out.detect
        gate[i : i + FRAME] = out.speech_ok
    be.close()
    return up, det, gate, spent / (n // FRAME) * 1000.0


def vad_trace(
    config: DspConfig, detect: FloatArray, gate: BoolArray | None = None
) -> tuple[list[float], list[tuple[int, int]]]:
    """Run the hysteresis VAD (barge-in mode, gated like the pipeline) over ``detect``.

    Returns:
        Per-window probabilities, and for each SpeechStarted its (onset sample, decision sample):
        the decision sample is how much audio had been fed when the start was reported.
    """
    score = silero_scorer()
    probs: list[float] = []

    def recording(window: FloatArray) -> float:
        p = score(window)
        probs.append(p)
        return p

    vad = VoiceActivityDetector(
        config.vad_threshold, config.vad_min_speech_ms, config.vad_min_silence_ms, recording
    )
    vad.barge_in = True  # the far end plays throughout the scene, as in the pipeline
    starts: list[tuple[int, int]] = []
    for i in range(0, len(detect), FRAME):
        g = gate[i : i + FRAME] if gate is not None else None
        for edge in vad.process(detect[i : i + FRAME], g):
            if edge.started:
                starts.append((edge.sample, i + FRAME))
    return probs, starts


def measure(
    config: DspConfig,
    scene: EchoScene,
    near_texts: Sequence[str],
    transcribe: Transcriber | None,
    echo_only_s: float,
) -> SynthResult:
    """All synthetic figures for ``config`` on ``scene``."""
    up, det, gate, ms = run_backend(config, scene)
    first_near = scene.near_spans[0][0] if scene.near_spans else len(up)
    erle = erle_db(
        scene.mic[int(0.5 * echo_only_s * RATE) : first_near],
        up[int(0.5 * echo_only_s * RATE) : first_near],
    )
    probs, starts = vad_trace(config, det, gate)
    lo, hi = 3 * RATE // WINDOW, first_near // WINDOW  # echo-only windows after 3 s
    # A window counts as flagged when the VAD scored it as speech and the DSP's gate let speech
    # start on it (the gate is part of the detector; single-strategy backends keep it open).
    open_w: BoolArray = np.asarray(gate[: len(probs) * WINDOW].reshape(-1, WINDOW).any(axis=1))
    flagged = [
        p >= config.vad_threshold and bool(o)
        for p, o in zip(probs[lo:hi], open_w[lo:hi], strict=True)
    ]
    false_pct = 100.0 * sum(flagged) / max(1, len(flagged))
    hits = 0
    for onset, _end in scene.near_spans:
        limit = onset + int(BARGE_IN_WINDOW_S * RATE)
        if any(
            onset <= decided <= limit and start >= onset - RATE // 10 for start, decided in starts
        ):
            hits += 1
    recall = 100.0 * hits / max(1, len(scene.near_spans))
    dt_wer = float("nan")
    if transcribe is not None and scene.near_spans:
        errors = words = 0.0
        for (onset, end), text in zip(scene.near_spans, near_texts, strict=True):
            seg = up[max(0, onset - RATE // 5) : end + RATE // 2]
            n_words = len(text.split())
            errors += wer(text, transcribe(seg)) * n_words
            words += n_words
        dt_wer = errors / words
    return SynthResult(erle, false_pct, recall, dt_wer, ms)
