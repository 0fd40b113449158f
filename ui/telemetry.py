"""Reading the core's polled audio telemetry into the few numbers the window shows."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Levels:
    """Levels in dBFS, echo attenuation in dB and VAD probability (None when unknown)."""

    input_rms_db: float | None = None
    input_peak_db: float | None = None
    output_rms_db: float | None = None
    output_peak_db: float | None = None
    echo_attenuation_db: float | None = None
    vad_probability: float | None = None


def read_levels(snapshot: object) -> Levels:
    """Read an ``app.audio.telemetry.AudioTelemetry``; missing or non-finite fields become None."""
    if snapshot is None:
        return Levels()
    erle = _first(snapshot, "echo_attenuation_db")
    return Levels(
        input_rms_db=_first(snapshot, "input_rms_dbfs"),
        input_peak_db=_first(snapshot, "input_peak_dbfs"),
        output_rms_db=_first(snapshot, "output_rms_dbfs"),
        output_peak_db=_first(snapshot, "output_peak_dbfs"),
        echo_attenuation_db=erle,
        vad_probability=_first(snapshot, "vad_probability"),
    )


def _first(obj: object, *names: str) -> float | None:
    for name in names:
        value = getattr(obj, name, None)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        return number if math.isfinite(number) else None
    return None
