"""Audio telemetry: a frozen snapshot read by polling (a ~30 Hz GUI timer), never per block."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from app.audio.ringbuffer import FloatArray

SILENCE_DBFS = -120.0  # floor reported for digital silence


class EngineState(enum.Enum):
    """Lifecycle of the audio engine's stream."""

    STOPPED = "stopped"
    STARTING = "starting"  # stream opened, first callback not seen yet
    RUNNING = "running"
    RECOVERING = "recovering"  # the watchdog is reopening a dead or stalled stream
    FAILED = "failed"  # no device could be opened (the watchdog keeps retrying)


@dataclass(frozen=True, slots=True)
class AudioTelemetry:
    """One consistent-enough snapshot of the engine (counters read without locks).

    Attributes:
        state: stream lifecycle state.
        input_device: name of the input device in use ("" when none).
        output_device: name of the output device in use.
        input_rms_dbfs: RMS of the last microphone block (dBFS).
        input_peak_dbfs: peak of the last microphone block (dBFS).
        output_rms_dbfs: RMS of the last block written to the device.
        output_peak_dbfs: peak of the last block written to the device.
        vad_probability: the pipeline's latest speech probability (0..1).
        echo_attenuation_db: the pipeline's live echo attenuation estimate (ERLE), if it has one.
        input_overflows: PortAudio input overflow flags seen.
        output_underflows: PortAudio output underflow flags seen.
        playback_underruns: times the jitter buffer ran dry in the middle of an item.
        capture_drops: mic blocks dropped because the engine thread fell behind.
        playback_drops_ms: assistant audio refused because the playback ring was full.
        callback_faults: exceptions caught inside the callback.
        frame_mismatches: callbacks whose block size differed from the fixed block.
        restarts: streams reopened by the watchdog.
        callbacks: callbacks run since start (a heartbeat).
        input_latency_ms: measured capture → engine latency: first sample of a block at the ADC
            (sample-clock estimate, see ``clock.py``) to the callback that delivered it.
        output_latency_ms: callback → DAC latency from PortAudio times, else the nominal one.
        playback_target_ms: current jitter-buffer target (grows after underruns).
        playback_queued_ms: assistant audio queued and not yet written to the device.
        pipeline_errors: exceptions raised while processing a captured block (clock, far-end
            alignment, DSP pipeline): the block was skipped, the engine thread went on.
        output_started_at: monotonic time the on-demand output was last started (None: never,
            or the output runs all the time).
        output_start_ms: how long that start call took (it primes the device buffer).
    """

    state: EngineState
    input_device: str
    output_device: str
    input_rms_dbfs: float
    input_peak_dbfs: float
    output_rms_dbfs: float
    output_peak_dbfs: float
    vad_probability: float
    echo_attenuation_db: float | None
    input_overflows: int
    output_underflows: int
    playback_underruns: int
    capture_drops: int
    playback_drops_ms: float
    callback_faults: int
    frame_mismatches: int
    restarts: int
    callbacks: int
    input_latency_ms: float
    output_latency_ms: float
    playback_target_ms: float
    playback_queued_ms: float
    pipeline_errors: int
    output_started_at: float | None = None
    output_start_ms: float = 0.0


def to_dbfs(value: float) -> float:
    """Convert a linear amplitude (full scale 1.0) to dBFS, floored at ``SILENCE_DBFS``."""
    if value <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(value))


def rms_dbfs(block: FloatArray) -> float:
    """RMS level of a float32 block in dBFS."""
    if len(block) == 0:
        return SILENCE_DBFS
    return to_dbfs(float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))))


def peak_dbfs(block: FloatArray) -> float:
    """Peak level of a float32 block in dBFS."""
    if len(block) == 0:
        return SILENCE_DBFS
    return to_dbfs(float(np.max(np.abs(block))))
