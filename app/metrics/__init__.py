"""Latency measurement: per-turn marks, rolling percentiles, snapshots for the GUI and exports."""

from __future__ import annotations

from app.metrics.latency import (
    MARK_NAMES,
    SEGMENTS,
    LatencyMeter,
    LatencySnapshot,
    Segment,
    SegmentStats,
    TurnLatency,
)
from app.metrics.percentile import percentile

__all__ = [
    "MARK_NAMES",
    "SEGMENTS",
    "LatencyMeter",
    "LatencySnapshot",
    "Segment",
    "SegmentStats",
    "TurnLatency",
    "percentile",
]
