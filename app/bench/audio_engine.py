"""AudioEngine figures through a private PulseAudio rig: flush → silence, capture → chunk.

``flush_to_silence_ms``: a tone plays through the engine's player; the bench calls ``flush()``
and the speaker monitor's recorder (dated on the monotonic clock) shows when the tone stopped.
Measured with the default on-demand output stream, and again (``flush_to_silence_ms.duplex``)
with the always-running full-duplex stream, whose device buffer a flush cannot take back.
``capture_to_chunk_ms``: for every ``AudioChunk`` the engine emits, the time from the ADC time
of its last sample (``captured_at`` + chunk length) to the moment the event reached the bench.
"""

from __future__ import annotations

import logging
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from app.audio.config import AudioConfig
from app.audio.dspconfig import DspConfig
from app.audio.engine import AudioEngine
from app.audio.pipeline import CapturePipeline
from app.bench.stats import percentile
from app.events import AudioChunk
from app.harness.procs import wait_until
from app.harness.pulse import PulseRig

log = logging.getLogger("app.bench")

TONE_RATE = 24000
SILENCE = 10 ** (-50 / 20)  # |sample| below −50 dBFS counts as silent


def _tone(seconds: float) -> bytes:
    t = np.arange(int(seconds * TONE_RATE)) / TONE_RATE
    return (np.sin(2 * np.pi * 440.0 * t) * 0.5 * 32767).astype("<i2").tobytes()


def measure_engine(quick: bool, results: dict[str, float]) -> None:
    """Run the trials and put ``flush_to_silence_ms.*`` and ``capture_to_chunk_ms.*`` in results."""
    trials = 15 if quick else 50
    _measure(AudioConfig(), trials, results, "flush_to_silence_ms", "capture_to_chunk_ms")
    duplex = AudioConfig(output_on_demand=False)
    _measure(duplex, trials, results, "flush_to_silence_ms.duplex", "capture_to_chunk_ms.duplex")


def _measure(
    config: AudioConfig, trials: int, results: dict[str, float], flush_key: str, chunk_key: str
) -> None:
    latencies: list[float] = []
    lock = threading.Lock()
    t_start = time.monotonic()

    def on_event(ev: object) -> None:
        if isinstance(ev, AudioChunk):
            now = time.monotonic()
            last = ev.captured_at + (len(ev.pcm) // 2) / ev.sample_rate
            if now - t_start > 2.0:
                with lock:
                    latencies.append((now - last) * 1000.0)

    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-engine-") as work:
        with PulseRig.start(Path(work), rate=config.device_rate) as rig:
            rig.activate()
            try:
                pipeline = CapturePipeline(
                    DspConfig(), config.device_rate, config.session_in_rate, config.chunk_ms
                )
                engine = AudioEngine(config, pipeline, on_event)
                rec = rig.record_monitor("speaker.monitor")
                try:
                    rec.wait_started(timeout=10.0)
                    engine.start()
                    wait_until(lambda: len(latencies) > 50, timeout=20.0, what="capture chunks")
                    flush_ms = _flush_trials(engine, rec, trials)
                finally:
                    engine.stop()
                    rec.close()
            finally:
                rig.deactivate()
    results[f"{flush_key}.p50"] = percentile(flush_ms, 50)
    results[f"{flush_key}.p95"] = percentile(flush_ms, 95)
    with lock:
        lat = list(latencies)
    results[f"{chunk_key}.p50"] = percentile(lat, 50)
    results[f"{chunk_key}.p95"] = percentile(lat, 95)


def _flush_trials(engine: AudioEngine, rec: object, trials: int) -> list[float]:
    """Play, flush, and time the silence on the monitor ``trials`` times."""
    from app.harness.recorder import Recorder

    assert isinstance(rec, Recorder)
    rate = rec.rate
    tone = _tone(3.0)
    rng = random.Random(5)
    out: list[float] = []
    for i in range(trials):
        played_from = rec.samples_recorded()
        engine.player.enqueue(tone, TONE_RATE, f"bench-{i}", f"item-{i}", 0)

        def tone_heard(start: int = played_from) -> bool:
            x = rec.snapshot()[start:]
            return bool(len(x) and np.max(np.abs(x)) > 0.1)

        wait_until(tone_heard, timeout=5.0, what="the tone on the speaker monitor")
        # Let it play a little (random phase of the 10 ms block) before cutting it.
        target = rec.samples_recorded() + int(rate * (0.1 + 0.2 * rng.random()))
        rec.wait_samples(target, timeout=5.0)
        t_flush = time.monotonic()
        engine.player.flush()
        i0 = rec.index_at(t_flush)
        rec.wait_samples(i0 + int(0.35 * rate), timeout=5.0)
        x = rec.snapshot()
        window = np.abs(x[max(0, i0 - rate // 10) : i0 + int(0.3 * rate)])
        loud = np.flatnonzero(window > SILENCE)
        if len(loud) == 0:
            continue  # nothing heard around the flush: the sample cannot be timed
        last = max(0, i0 - rate // 10) + int(loud[-1]) + 1
        out.append((rec.time_of(last) - t_flush) * 1000.0)
    if not out:
        raise RuntimeError("no flush trial could be timed")
    log.info("flush trials: %d of %d timed", len(out), trials)
    return out
