"""``AudioEngine``: owns the stream (through its watchdog) and the ``audio-engine`` thread.

The engine thread drains the capture ring, maps PortAudio times to ``time.monotonic()``, meters
levels, hands each 10 ms block with its far-end reference to the DSP pipeline and publishes
what comes out (``AudioChunk``, ``SpeechStarted``, ``SpeechStopped``) plus ``PlaybackDrained``
and the watchdog's ``UserNotice``s through ``on_event``. With one duplex stream the reference is
the block played in the same callback; with separate streams (the default: the output runs on
demand, see ``output_lane.py``) it comes from the DAC-time timeline of ``farref.py``.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from app.audio.backend import SoundDeviceBackend
from app.audio.callback import CallbackShared
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.farref import FarTimeline
from app.audio.output_lane import OutputLane
from app.audio.player import PlaybackState, Player
from app.audio.ringbuffer import (
    CLOCK_CURRENT,
    CLOCK_DAC,
    CLOCK_NOW,
    CLOCK_RUN,
    CLOCK_SEQ,
    BlockRing,
    FloatArray,
)
from app.audio.selftest import SelfTestResult, analyze, make_test_signal
from app.audio.stream_backend import StreamBackend
from app.audio.telemetry import AudioTelemetry, EngineState, peak_dbfs, rms_dbfs
from app.audio.watchdog import StreamWatchdog
from app.ports import PlaybackSink

log = logging.getLogger("app.audio")

_LATENCY_SMOOTHING = 0.05  # EMA weight of each block's measured latency
_SLEW_S = 10e-6  # far-end alignment follows the capture clock by at most 1 ms per second...
_JUMP_S = 0.02  # ...unless it moved this much (new stream, lost samples): then at once


class CapturePipelineLike(Protocol):
    """What the engine needs from the DSP pipeline (``app.audio.pipeline.CapturePipeline``)."""

    def process(self, mic: FloatArray, far: FloatArray, adc_time: float) -> Sequence[object]:
        """Process one 10 ms block; return chunks and speech events."""
        ...

    def set_assistant_speaking(self, speaking: bool) -> None:
        """Tell the pipeline whether assistant audio is playing."""
        ...


class _Tap:
    """Records ``blocks`` aligned (mic, far) blocks on the engine thread for the self-test."""

    def __init__(self, blocks: int, frames: int) -> None:
        self.mic: FloatArray = np.zeros(blocks * frames, np.float32)
        self.far: FloatArray = np.zeros(blocks * frames, np.float32)
        self.frames = frames
        self.count = 0
        self.blocks = blocks
        self.done = threading.Event()

    def feed(self, mic: FloatArray, far: FloatArray) -> None:
        if self.count >= self.blocks:
            return
        start = self.count * self.frames
        self.mic[start : start + self.frames] = mic
        self.far[start : start + self.frames] = far
        self.count += 1
        if self.count == self.blocks:
            self.done.set()


class AudioEngine:
    """Full-duplex audio engine: capture → DSP pipeline → events; session audio → speaker.

    Thread: construct, ``start``, ``stop``, ``restart_stream`` and ``self_test`` from the owner
    (runtime) thread; ``player`` methods per ``Player``'s notes; ``telemetry`` from any thread.
    ``on_event`` is called on the ``audio-engine`` (and ``audio-watchdog``, for notices) thread
    and must not block.
    """

    def __init__(
        self,
        config: AudioConfig,
        pipeline: CapturePipelineLike,
        on_event: Callable[[object], None],
        backend: StreamBackend | None = None,
    ) -> None:
        self._config = config
        self._pipeline = pipeline
        self._on_event = on_event
        frames = config.block_frames
        self._block_s = frames / config.device_rate
        self._capture = BlockRing(config.capture_ring_blocks, frames, 2)
        self._playback = PlaybackState(config)
        self._shared = CallbackShared(self._capture, BlockRing(config.far_ring_blocks, frames, 1),
                                      self._playback)  # fmt: skip
        self._clock = PaClock(self._block_s)
        self._player = Player(config, self._playback, self._clock)
        self._backend = backend or SoundDeviceBackend()
        self._watchdog = StreamWatchdog(
            config, self._backend, self._shared, self._clock, self._emit
        )
        # Separate streams: the far-end reference is laid out by DAC time (farref.py).
        self._timeline: FarTimeline | None = None
        if config.split_streams:
            self._timeline = FarTimeline(config.device_rate, config.far_lead_ms / 1000.0)
            self._clock.redating = True  # and the player's onsets wait for each run's re-dating
        self._cuts: collections.deque[tuple[int, float]] = collections.deque()
        self._ref_origin: float | None = None  # [engine thread] see _reference_time
        self._lane: OutputLane | None = None
        if config.output_on_demand:
            self._lane = OutputLane(config, self._backend, self._player, self._on_cut)
            self._player.attach_output(self._lane.wake)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tap: _Tap | None = None
        self._speaking = False
        self._levels = (-120.0, -120.0, -120.0, -120.0)
        self._in_latency_s: float | None = None
        self._out_latency_s: float | None = None
        self._seen_overflows = 0
        self.pipeline_errors = 0

    @property
    def player(self) -> PlaybackSink:
        """The playback side (``PlaybackSink``) the session writes assistant audio into."""
        return self._player

    @property
    def playback(self) -> Player:
        """The concrete player (extra API: ``end_response``, ``queued_ms``)."""
        return self._player

    @property
    def state(self) -> EngineState:
        """The stream lifecycle state."""
        return self._watchdog.state

    def start(self) -> None:
        """Open the stream and start the engine and watchdog threads.

        A stream that cannot be opened is not an error here: the watchdog keeps retrying and a
        ``UserNotice`` tells the user.
        """
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="audio-engine", daemon=True)
        self._thread.start()
        self._watchdog.open_first()
        self._watchdog.start()
        if self._lane is not None:
            self._lane.start()

    def stop(self) -> None:
        """Stop capture and playback, close the stream, join the threads (with timeouts)."""
        if self._lane is not None:
            self._lane.stop()
        self._watchdog.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def restart_stream(self, config: AudioConfig | None = None) -> None:
        """Close and reopen the stream (devices by name, default as fallback) without a notice.

        Args:
            config: new settings to open with; only ``input_device``, ``output_device`` and
                ``latency_s`` are taken (rings and rates stay as constructed).
        """
        if config is None:
            self._watchdog.request_restart()
            return
        self._config = dataclasses.replace(
            self._config,
            input_device=config.input_device,
            output_device=config.output_device,
            latency_s=config.latency_s,
        )
        self._watchdog.request_restart(self._config)

    def use_devices(self, input_device: str | None, output_device: str | None) -> None:
        """Switch devices by name (None = system default); the stream reopens within ~0.1 s."""
        config = self._config
        self.restart_stream(
            dataclasses.replace(config, input_device=input_device, output_device=output_device)
        )

    def telemetry(self) -> AudioTelemetry:
        """A snapshot for polling (levels of the latest block, counters, latencies)."""
        shared, info, st, lane = self._shared, self._watchdog.info, self._playback, self._lane
        in_rms, in_peak, out_rms, out_peak = self._levels
        erle = getattr(self._pipeline, "erle_db", None)
        in_lat, out_lat = self._in_latency_s, self._out_latency_s
        in_lat = self._clock.input_latency_s if in_lat is None else in_lat
        out_lat = self._clock.output_latency_s if out_lat is None else out_lat
        return AudioTelemetry(
            state=self._watchdog.state,
            input_device=info.input_device if info else "",
            output_device=info.output_device if info else "",
            input_rms_dbfs=in_rms,
            input_peak_dbfs=in_peak,
            output_rms_dbfs=out_rms,
            output_peak_dbfs=out_peak,
            vad_probability=float(getattr(self._pipeline, "vad_probability", 0.0)),
            echo_attenuation_db=None if erle is None else float(erle),
            input_overflows=shared.input_overflows,
            output_underflows=shared.output_underflows,
            playback_underruns=st.underruns,
            capture_drops=self._capture.overflows,
            playback_drops_ms=self._player.dropped_samples * 1000.0 / self._config.device_rate,
            callback_faults=shared.faults,
            frame_mismatches=shared.frame_mismatches,
            restarts=self._watchdog.restarts,
            callbacks=shared.callbacks,
            input_latency_ms=in_lat * 1000.0,
            output_latency_ms=out_lat * 1000.0,
            playback_target_ms=st.target_frames * 1000.0 / self._config.device_rate,
            playback_queued_ms=self._player.queued_ms(),
            pipeline_errors=self.pipeline_errors,
            output_started_at=lane.started_at if lane is not None else None,
            output_start_ms=lane.start_s * 1000.0 if lane is not None else 0.0,
        )

    def self_test(
        self, seconds: float = 1.0, level_dbfs: float = -12.0, timeout_s: float = 5.0
    ) -> SelfTestResult:
        """Play a test sweep, record the mic, estimate echo delay and attenuation.

        Blocks up to ``timeout_s``; call it from a worker thread, with no session playing (it
        writes the playback queue, whose single producer is otherwise the session).

        Raises:
            TimeoutError: the stream delivered too few blocks in time.
        """
        frames, rate = self._config.block_frames, self._config.device_rate
        extra = int(0.5 / self._block_s)  # room for the echo path after the signal ends
        tap = _Tap(int(seconds / self._block_s) + extra, frames)
        self._tap = tap
        signal = make_test_signal(rate, seconds, level_dbfs)
        pcm = (np.clip(signal, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        tag = f"selftest-{time.monotonic_ns()}"
        self._player.enqueue(pcm, rate, tag, tag, 0)
        try:
            if not tap.done.wait(timeout_s):
                raise TimeoutError("the audio device delivered too little audio for the self-test")
        finally:
            self._tap = None
        return analyze(tap.mic, tap.far, rate)

    # -- engine thread -------------------------------------------------------------------------

    def _run(self) -> None:
        ring = self._capture
        while not self._stop.is_set():
            if ring.readable() == 0:
                self._poll_playback()
                self._stop.wait(self._config.engine_poll_s)
                continue
            k = ring.peek()
            mic = ring.data[k, 0].copy()
            far = ring.data[k, 1].copy()
            times = ring.clock[k]
            now, current = float(times[CLOCK_NOW]), float(times[CLOCK_CURRENT])
            dac, seq = float(times[CLOCK_DAC]), int(times[CLOCK_SEQ])
            ring.release()
            try:
                self._process_block(mic, far, now, current, dac, seq)
            except Exception:  # a bug in one block (alignment, DSP) must not end the capture
                self.pipeline_errors += 1
                if self.pipeline_errors == 1 or self.pipeline_errors % 1000 == 0:
                    log.exception("capture block failed (%d blocks skipped)", self.pipeline_errors)

    def _process_block(
        self, mic: FloatArray, far: FloatArray, now: float, current: float, dac: float, seq: int
    ) -> None:
        clock = self._clock
        clock.observe(now, current)
        overflows = self._shared.input_overflows
        if overflows != self._seen_overflows:  # samples were lost: the sample clock jumped
            self._seen_overflows = overflows
            clock.reset_capture()
        clock.observe_capture(now, seq)
        adc_time = clock.capture_time(now, seq)
        self._in_latency_s = self._smooth(self._in_latency_s, now - adc_time)
        timeline = self._timeline
        if timeline is not None:
            self._drain_far(timeline)
            timeline.read(self._reference_time(adc_time, seq), far)
        elif current > 0.0 and dac > 0.0:
            self._out_latency_s = self._smooth(self._out_latency_s, dac - current)
        self._levels = (rms_dbfs(mic), peak_dbfs(mic), rms_dbfs(far), peak_dbfs(far))
        tap = self._tap
        if tap is not None:
            tap.feed(mic, far)
        self._poll_playback()
        for event in self._pipeline.process(mic, far, adc_time):
            self._emit(event)

    def _reference_time(self, adc_time: float, seq: int) -> float:
        """Capture time used to align the far end: the clock's estimate, slewed.

        The capture clock's origin moves in small steps (its sliding minimum) and after lost
        samples; a step in the alignment makes the echo canceller re-converge, so the origin
        used here follows slowly (``_SLEW_S`` per block) and jumps only for large moves.
        """
        origin = adc_time - seq * self._block_s
        ref = self._ref_origin
        if ref is None or abs(origin - ref) > _JUMP_S:
            ref = origin
        else:
            ref += max(-_SLEW_S, min(_SLEW_S, origin - ref))
        self._ref_origin = ref
        return ref + seq * self._block_s

    def _on_cut(self, run: int, at: float) -> None:
        self._cuts.append((run, at))  # deque append: safe from the audio-output thread

    def _apply_cuts(self, timeline: FarTimeline) -> None:
        cuts = self._cuts
        while cuts:
            run, at = cuts.popleft()
            timeline.cut(run, at)

    def _drain_far(self, timeline: FarTimeline) -> None:
        """Lay every block the output played since the last call on the timeline."""
        ring = self._shared.far
        self._apply_cuts(timeline)
        while ring.readable():
            k = ring.peek()
            times = ring.clock[k]
            now, current = float(times[CLOCK_NOW]), float(times[CLOCK_CURRENT])
            dac, run = float(times[CLOCK_DAC]), int(times[CLOCK_RUN])
            if run != timeline.run:  # a new output run: its predecessor's cut is queued by now
                self._apply_cuts(timeline)
            if dac > 0.0 and current > 0.0:
                self._out_latency_s = self._smooth(self._out_latency_s, dac - current)
            # PortAudio's DAC time through the stable clock offset (no callback jitter); the
            # callback's own time tells a primed start's blocks from those played in real time.
            timeline.add(ring.data[k, 0], self._clock.dac_to_monotonic(now, dac), run, now)
            self._clock.note_run(timeline.run_first_call, timeline.primed, now)
            ring.release()

    def _poll_playback(self) -> None:
        now = time.monotonic()
        speaking = self._player.is_active(now)
        if speaking != self._speaking:
            self._speaking = speaking
            try:
                self._pipeline.set_assistant_speaking(speaking)
            except Exception:
                log.exception("pipeline.set_assistant_speaking failed")
        drained = self._player.poll_drained(now)
        if drained is not None:
            self._emit(drained)

    @staticmethod
    def _smooth(previous: float | None, value: float) -> float:
        if previous is None:
            return value
        return previous + _LATENCY_SMOOTHING * (value - previous)

    def _emit(self, event: object) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event failed for %s", type(event).__name__)
