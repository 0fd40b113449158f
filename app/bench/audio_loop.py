"""Record far-end playback and the echoing microphone through a private PulseAudio loopback.

The far end is played with one full-duplex ``sounddevice`` stream (10 ms blocks) exactly as the
engine would; ``module-loopback`` copies the speaker monitor into the virtual microphone (the
"acoustic" echo path: about 55–70 ms, drifting). The callback stores each mic block and the block
it wrote in the same call, so the pair is aligned the way ``CapturePipeline.process`` expects.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger("app.bench")

FloatArray = npt.NDArray[np.float32]


def record_echo_loop(
    far: FloatArray, rate: int, work_dir: Path, gain: float = 1.0, timeout_s: float = 60.0
) -> tuple[FloatArray, FloatArray, int]:
    """Play ``far`` through a fresh PulseRig with an echo loopback; return (mic, far_written).

    Args:
        far: far-end signal at ``rate``.
        rate: device rate (the rig's null sinks run at it too).
        work_dir: directory for the rig's files.
        gain: echo path gain (1.0 = a harsh, loud echo).
        timeout_s: give up if playback has not finished by then (beyond its own length).

    Returns:
        Microphone and written far-end blocks (same length), and how many callbacks flagged an
        xrun (underruns shift the echo path and spoil the AEC figures of that run).

    Raises:
        RuntimeError: the stream could not run or did not finish in time.
    """
    import sounddevice as sd

    from app.harness.pulse import PulseRig

    block = rate // 100
    n_blocks = len(far) // block
    mic_rec = np.zeros(n_blocks * block, dtype=np.float32)
    far_rec = np.zeros(n_blocks * block, dtype=np.float32)
    state = {"i": 0, "status": 0}
    done = threading.Event()

    def callback(
        indata: np.ndarray, outdata: np.ndarray, frames: int, _t: object, st: object
    ) -> None:
        i = state["i"]
        if st:
            state["status"] += 1
        if i >= n_blocks or frames != block:
            outdata.fill(0)
            if i >= n_blocks:
                done.set()
            return
        s = i * block
        outdata[:, 0] = far[s : s + block]
        far_rec[s : s + block] = far[s : s + block]
        mic_rec[s : s + block] = indata[:, 0]
        state["i"] = i + 1

    with PulseRig.start(work_dir, rate=rate) as rig:
        rig.activate()
        try:
            module = rig.load_echo_loopback(latency_ms=20, gain=gain)
            try:
                with sd.Stream(
                    samplerate=rate,
                    blocksize=block,
                    channels=1,
                    dtype="float32",
                    latency="low",
                    callback=callback,
                ):
                    if not done.wait(timeout=len(far) / rate + timeout_s):
                        raise RuntimeError(
                            f"loop playback stalled after {state['i']} of {n_blocks} blocks"
                        )
            finally:
                rig.unload_module(module)
        finally:
            rig.deactivate()
    if state["status"]:
        log.info("loop recording: %d blocks flagged an xrun", state["status"])
    return mic_rec, far_rec, state["status"]


def run_pipeline(
    backend: str, mic: FloatArray, played: FloatArray, rate: int, session_rate: int
) -> tuple[FloatArray, list[tuple[float, float]]]:
    """Feed a recorded (mic, played) pair through a CapturePipeline in 10 ms blocks.

    The assistant is flagged as speaking throughout (barge-in mode), as during a response.

    Returns:
        The upstream audio at ``session_rate``, and for every SpeechStarted its (onset stamp,
        decision time), both in seconds from the first mic sample.
    """
    from app.audio.dspconfig import DspConfig
    from app.audio.pipeline import CapturePipeline
    from app.events import AudioChunk, SpeechStarted

    block = rate // 100
    pipe = CapturePipeline(DspConfig(backend=backend), rate, session_rate)  # type: ignore[arg-type]
    pipe.set_assistant_speaking(True)
    chunks: list[bytes] = []
    starts: list[tuple[float, float]] = []
    try:
        for i in range(0, len(mic) - block + 1, block):
            for ev in pipe.process(mic[i : i + block], played[i : i + block], i / rate):
                if isinstance(ev, AudioChunk):
                    chunks.append(ev.pcm)
                elif isinstance(ev, SpeechStarted):
                    starts.append((pipe.origin_s + ev.sample / session_rate, (i + block) / rate))
    finally:
        pipe.close()
    out: FloatArray = np.frombuffer(b"".join(chunks), "<i2").astype(np.float32) / 32768.0
    return out, starts


def add_near_talker(
    mic: FloatArray, clips: list[FloatArray], at_s: list[float], rate: int
) -> tuple[FloatArray, list[tuple[int, int]]]:
    """Add near utterances to a recorded echo at the echo's RMS level (the mic path is additive).

    Returns:
        The new mic signal and each utterance's voiced (first, last + 1) sample span.
    """
    out = mic.copy()
    echo_rms = float(np.sqrt(np.mean(np.square(mic, dtype=np.float64))))
    spans = []
    for clip, at in zip(clips, at_s, strict=True):
        voiced = clip[np.abs(clip) > 1e-3]
        scaled = clip * (echo_rms / max(float(np.sqrt(np.mean(voiced**2))), 1e-9))
        start = round(at * rate)
        end = min(len(out), start + len(scaled))
        out[start:end] += scaled[: end - start]
        idx = np.flatnonzero(np.abs(clip) > 0.05 * np.max(np.abs(clip)))
        spans.append((start + int(idx[0]), min(end, start + int(idx[-1]) + 1)))
    return out, spans
