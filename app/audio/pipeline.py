"""The capture pipeline: device-rate blocks in, cleaned session-rate chunks and VAD edges out.

Runs on the ``audio-engine`` thread. Per 10 ms block: mic and far end are converted to the
16 kHz DSP rate by identical streaming resamplers (so they stay sample-aligned), cleaned in 10 ms
frames by the configured backend, the upstream signal is converted to the session rate and cut
into PCM16 chunks, and the detection signal feeds the VAD. Sample indices are delay-compensated:
chunk sample ``n`` holds what reached the ADC ``origin_s + n / session_rate`` seconds after the
first captured sample, and ``captured_at`` maps it to ``time.monotonic()`` through the ADC times
the engine passed in. ``origin_s`` (< one block) is chosen on the first block so that chunk ends
fall just before block ends once the processing delay is added: a chunk then leaves with the
block that completes it instead of waiting for the next one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque

import numpy as np
import numpy.typing as npt

from app.audio.chunker import Chunker
from app.audio.dsp import DspBackend, create_backend
from app.audio.dspconfig import DspConfig
from app.audio.resample import StreamResampler
from app.audio.vad import VAD_RATE, VoiceActivityDetector
from app.events import LEVEL_WINDOW_S, AudioChunk, SpeechStarted, SpeechStopped

log = logging.getLogger("app.audio.pipeline")

DSP_RATE = VAD_RATE  # 16 kHz: silero's rate, accepted by both backends
FRAME = DSP_RATE // 100
ANCHORS = 512  # block start times kept (~5 s of 10 ms blocks) for timestamp look-ups
FAR_ACTIVE_DB = -60.0  # far-end level above which the echo attenuation estimate updates
ERLE_HOLD_FRAMES = 200  # keep the last estimate this long after the far end went quiet
SILENT_DB = -120.0
ONSET_LOOKBACK = DSP_RATE * 400 // 1000  # furthest the DSP may date a speech start back
EVIDENCE_LOOKBACK = DSP_RATE * 250 // 1000  # ...and its evidence (``SpeechStarted.evidence_at``)
ORIGIN_MARGIN_S = 0.001  # slack so rounding never pushes a chunk end into the next block
LEVEL_WINDOW = round(DSP_RATE * LEVEL_WINDOW_S)  # samples per AudioChunk.levels_db window

PipelineEvent = AudioChunk | SpeechStarted | SpeechStopped


def rms_db(x: npt.NDArray[np.floating]) -> float:
    """RMS level of ``x`` in dBFS (−120 for silence or an empty block)."""
    if len(x) == 0:
        return SILENT_DB
    p = float(np.dot(x, x)) / len(x)
    return 10.0 * math.log10(p) if p > 1e-12 else SILENT_DB


def _vad_fields_only(a: DspConfig, b: DspConfig) -> bool:
    """True when ``a`` and ``b`` differ at most in VAD settings (no backend rebuild needed)."""

    def strip(c: DspConfig) -> DspConfig:
        return dataclasses.replace(c, vad_threshold=0.5, vad_min_speech_ms=0, vad_min_silence_ms=0)

    return strip(a) == strip(b)


class CapturePipeline:
    """Resample, clean (AEC/NS/AGC), detect speech and chunk the microphone stream.

    Args:
        config: DSP and VAD settings.
        device_rate: sample rate of the blocks passed to :meth:`process`.
        session_rate: sample rate of the chunks produced (e.g. 24000 for OpenAI).
        chunk_ms: chunk duration.

    Attributes:
        vad_probability: last VAD window's speech probability.
        erle_db: live echo attenuation estimate (mic vs. upstream power while the far end
            plays), or None when nothing has played recently.
        in_rms_db: level of the last microphone block (dBFS).
        out_rms_db: level of the last cleaned audio (dBFS).
    """

    def __init__(
        self, config: DspConfig, device_rate: int, session_rate: int, chunk_ms: int = 20
    ) -> None:
        self.device_rate = device_rate
        self.session_rate = session_rate
        self.chunk_ms = chunk_ms
        self._config = config
        self._mic_rs = StreamResampler(device_rate, DSP_RATE)
        self._far_rs = StreamResampler(device_rate, DSP_RATE)
        self._out_rs = StreamResampler(DSP_RATE, session_rate)
        self._chunker = Chunker(session_rate, chunk_ms)
        self._backend: DspBackend = create_backend(config, DSP_RATE)
        self._vad = VoiceActivityDetector(
            config.vad_threshold, config.vad_min_speech_ms, config.vad_min_silence_ms
        )
        self._mic16 = np.zeros(0, dtype=np.float32)
        self._far16 = np.zeros(0, dtype=np.float32)
        # Output samples still to drop so indices stay aligned with the input (backend delay).
        self._up_skip = self._backend.latency_samples
        self._levels: list[float] = []  # unity-gain window levels not yet sent with a chunk
        self._levels_at = 0.0  # ADC time of the first of them
        self._level_count = 0  # backend output samples whose levels were taken
        self.origin_s = 0.0
        self._anchors: deque[tuple[int, float]] = deque(maxlen=ANCHORS)
        self._device_count = 0
        self._pending_config: DspConfig | None = None
        self._speaking_flag = False
        self._speaking_applied = False
        self._mic_pow = 0.0
        self._out_pow = 0.0
        self._quiet_frames = ERLE_HOLD_FRAMES
        self.vad_probability = 0.0
        self.erle_db: float | None = None
        self.in_rms_db = SILENT_DB
        self.out_rms_db = SILENT_DB

    @property
    def backend_name(self) -> str:
        """Name of the backend currently running."""
        return self._backend.name

    def set_assistant_speaking(self, speaking: bool) -> None:
        """Tell the DSP and VAD the assistant is talking (barge-in mode; applied next block)."""
        self._speaking_flag = speaking

    def reconfigure(self, config: DspConfig) -> None:
        """Switch settings; applied on the engine thread at the start of the next block."""
        self._pending_config = config

    def process(
        self, mic: npt.NDArray[np.float32], far: npt.NDArray[np.float32], adc_time: float
    ) -> list[PipelineEvent]:
        """Process one device block.

        Args:
            mic: float32 mono microphone block at ``device_rate``.
            far: float32 mono block written to the device in the same callback.
            adc_time: ``time.monotonic()`` of ``mic[0]`` at the ADC.

        Returns:
            Chunks at ``session_rate`` and speech start/stop events, in stream order.
        """
        self._apply_pending()
        if self._device_count == 0 and len(mic):
            self._choose_origin(len(mic) / self.device_rate)
        if len(far) != len(mic):
            far = np.resize(far, len(mic)) if len(far) else np.zeros(len(mic), np.float32)
        self._anchors.append((self._device_count, adc_time))
        self._device_count += len(mic)
        self.in_rms_db = rms_db(mic)
        self._mic16 = np.concatenate([self._mic16, self._mic_rs.process(mic)])
        self._far16 = np.concatenate([self._far16, self._far_rs.process(far)])
        n_frames = min(len(self._mic16), len(self._far16)) // FRAME
        if n_frames == 0:
            return []
        upstream = np.empty(n_frames * FRAME, dtype=np.float32)
        detect = np.empty(n_frames * FRAME, dtype=np.float32)
        unity = np.empty(n_frames * FRAME, dtype=np.float32)
        gate = np.empty(n_frames * FRAME, dtype=np.bool_)
        for i in range(n_frames):
            sl = slice(i * FRAME, (i + 1) * FRAME)
            near_f, far_f = self._mic16[sl], self._far16[sl]
            frame = self._backend.process(near_f, far_f)
            upstream[sl] = frame.upstream
            detect[sl] = frame.detect
            unity[sl] = frame.upstream if frame.unity is None else frame.unity
            gate[sl] = frame.speech_ok
            self._track_erle(near_f, far_f, frame.upstream)
        self._mic16 = self._mic16[n_frames * FRAME :]
        self._far16 = self._far16[n_frames * FRAME :]
        self.out_rms_db = rms_db(upstream)
        self._take_levels(unity)
        events: list[PipelineEvent] = []
        if self._up_skip > 0:
            drop = min(self._up_skip, len(upstream))
            upstream = upstream[drop:]
            self._up_skip -= drop
        elif self._up_skip < 0:
            upstream = np.concatenate([np.zeros(-self._up_skip, np.float32), upstream])
            self._up_skip = 0
        for first, pcm in self._chunker.push(self._out_rs.process(upstream)):
            at = self._time_of(self.origin_s + first / self.session_rate)
            levels, self._levels = tuple(self._levels), []
            events.append(AudioChunk(pcm, self.session_rate, first, at, levels, self._levels_at))
        for edge in self._vad.process(detect, gate):
            if edge.started:
                # Over echo the cleaned signal hides the user's first syllable from the VAD;
                # the double-talk detector dates it (see app.audio.dsp.doubletalk).
                first = self._dated(edge.sample, "near_onset_sample", ONSET_LOOKBACK)
                evidence = self._dated(edge.sample, "near_evidence_sample", EVIDENCE_LOOKBACK)
                sample, at = self._stamp(first)
                events.append(SpeechStarted(sample, at, self._stamp(evidence)[1]))
            else:
                events.append(SpeechStopped(*self._stamp(edge.sample)))
        self.vad_probability = self._vad.probability
        return events

    def _take_levels(self, unity: npt.NDArray[np.float32]) -> None:
        """Window levels of the backend's unity-gain output, dated like the chunks' samples.

        The latency meter places the end of the user's speech on them: the AGC lifts a word's
        fading tail more than its loud middle, so on the sent audio the tail stays "within N dB
        of the peak" up to 15 ms longer than it did in the room.
        """
        power = np.square(unity.reshape(-1, LEVEL_WINDOW), dtype=np.float64).mean(axis=1)
        if not self._levels:
            t = (self._level_count - self._backend.latency_samples) / DSP_RATE
            self._levels_at = self._time_of(t - self._mic_rs.delay_s)  # < 0: before the start
        self._levels.extend((10.0 * np.log10(np.maximum(power, 1e-20))).tolist())
        self._level_count += len(unity)

    def _dated(self, first: int, mark: str, lookback: int) -> int:
        """The VAD's start ``first`` (detect samples), dated back to the backend's ``mark``."""
        near = getattr(self._backend, mark, None)
        if near is not None and first - lookback <= near < first:
            return int(near)
        return first

    def _stamp(self, first: int) -> tuple[int, float]:
        """Session-rate sample index and capture time of the detect sample ``first``."""
        t = max(0, first - self._backend.detect_latency_samples) / DSP_RATE
        return max(0, round((t - self.origin_s) * self.session_rate)), self._time_of(t)

    def _choose_origin(self, block_s: float) -> None:
        """Pick ``origin_s`` so chunk ends plus the processing delay land just inside a block."""
        delay = (
            self._mic_rs.delay_s
            + self._backend.latency_samples / DSP_RATE
            + self._out_rs.delay_s
            + ORIGIN_MARGIN_S
        )
        skip = round(((-delay) % block_s) * DSP_RATE)
        self.origin_s = skip / DSP_RATE
        self._up_skip += skip

    def _track_erle(
        self,
        near: npt.NDArray[np.float32],
        far: npt.NDArray[np.float32],
        out: npt.NDArray[np.float32],
    ) -> None:
        """Update the smoothed echo attenuation estimate with one 10 ms frame."""
        if rms_db(far) > FAR_ACTIVE_DB:
            self._quiet_frames = 0
            self._mic_pow = 0.95 * self._mic_pow + 0.05 * float(np.dot(near, near))
            self._out_pow = 0.95 * self._out_pow + 0.05 * float(np.dot(out, out))
            ratio = self._mic_pow / max(self._out_pow, 1e-12)
            self.erle_db = 10.0 * math.log10(max(ratio, 1e-12))
        else:
            self._quiet_frames += 1
            if self._quiet_frames >= ERLE_HOLD_FRAMES:
                self.erle_db = None

    def _time_of(self, t: float) -> float:
        """Monotonic ADC time of the input instant ``t`` seconds after the first sample."""
        k = round(t * self.device_rate)
        start, when = self._anchors[0]
        for s, w in reversed(self._anchors):
            if s <= k:
                start, when = s, w
                break
        return when + (k - start) / self.device_rate

    def _apply_pending(self) -> None:
        """Apply a configuration or speaking flag posted since the last block."""
        if self._speaking_flag != self._speaking_applied:
            self._speaking_applied = self._speaking_flag
            self._backend.set_assistant_speaking(self._speaking_applied)
            self._vad.barge_in = self._speaking_applied
        config, self._pending_config = self._pending_config, None
        if config is None or config == self._config:
            return
        self._vad.configure(
            config.vad_threshold, config.vad_min_speech_ms, config.vad_min_silence_ms
        )
        if not _vad_fields_only(config, self._config):
            old = self._backend
            self._backend = create_backend(config, DSP_RATE)
            self._backend.set_assistant_speaking(self._speaking_applied)
            self._up_skip += self._backend.latency_samples - old.latency_samples
            old.close()
            log.info("capture DSP switched to %s", self._backend.name)
        self._config = config

    def close(self) -> None:
        """Release the backend's native state."""
        self._backend.close()
