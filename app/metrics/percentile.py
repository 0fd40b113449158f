"""Percentiles of small samples, without numpy (the GUI and exports need only a handful)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation between closest ranks.

    Matches ``numpy.percentile(values, q)`` (its default "linear" method).

    Args:
        values: the sample, in any order.
        q: the percentile, 0..100.

    Returns:
        The percentile, or ``None`` for an empty sample.

    Raises:
        ValueError: if ``q`` is outside 0..100.
    """
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
