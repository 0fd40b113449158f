"""Statistics shared by every bench: percentiles, echo attenuation (ERLE), word error rate."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100, linear interpolation) of ``values``.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside 0–100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary(values: Sequence[float]) -> dict[str, float]:
    """``p50``, ``p95``, ``max`` and ``n`` of ``values`` (for tables and JSON)."""
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": float(max(values)),
        "n": float(len(values)),
    }


def power(x: npt.NDArray[np.floating]) -> float:
    """Mean square of ``x`` (0 for an empty array)."""
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def erle_db(mic: npt.NDArray[np.floating], out: npt.NDArray[np.floating]) -> float:
    """Echo return loss enhancement: 10·log10(P_mic / P_out) over echo-only audio.

    A silent output is capped at 120 dB rather than infinity.
    """
    p_in, p_out = power(mic), power(out)
    if p_in <= 0.0:
        raise ValueError("ERLE of a silent microphone signal")
    return min(120.0, 10.0 * math.log10(p_in / max(p_out, p_in * 1e-12)))


def _words(text: str) -> list[str]:
    """Lower-case words with punctuation removed; digits kept."""
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (substitutions + deletions + insertions) / reference words.

    Text is normalised (lower case, punctuation dropped). An empty reference gives 0 for an empty
    hypothesis and 1 otherwise.
    """
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)
