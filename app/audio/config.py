"""``AudioConfig``: every tunable of the audio engine's I/O side, validated once at construction.

The DSP chain has its own configuration (``DspConfig`` in the pipeline module); this one covers
devices, the stream, the rings, the playback jitter buffer and the watchdog.
"""

from __future__ import annotations

from dataclasses import dataclass


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """Configuration of the stream, rings, playback buffer and watchdog.

    Attributes:
        input_device: device name (exact, else case-insensitive substring); None = system default.
        output_device: same for the speaker. Different devices open two streams.
        device_rate: sample rate the stream runs at, in Hz.
        block_ms: fixed callback block length in milliseconds (10 ms by default).
        latency_s: PortAudio suggested latency; explicit, because 'low' is erratic on ALSA-pulse.
        session_in_rate: rate of the chunks sent to the provider (OpenAI 24 kHz, Gemini 16 kHz).
        session_out_rate: rate of the provider's audio (24 kHz for both).
        chunk_ms: length of the PCM16 chunks the pipeline emits.
        capture_ring_blocks: capacity of the capture ring in blocks (a power of two).
        far_ring_blocks: capacity of the far-end ring used only with two streams (power of two).
        playback_capacity_s: seconds of device-rate audio the playback ring holds.
        playback_segments: capacity of the segment table (one entry per enqueue; power of two).
        item_slots: items whose played counters are tracked at once (power of two).
        playback_prebuffer_ms: least delay between an answer's first audio arriving and its
            first sample playing (0 = at once; the learned jitter target can only add to it).
        playback_max_buffer_ms: upper bound of the adaptive target buffer.
        playback_max_jitter_ms: the target never grows beyond this either (``max_buffer`` is
            also used as a queue limit by the settings, far too large for a jitter target).
        playback_jitter_memory: answers whose worst delta lateness the adaptive target
            remembers (``app/audio/jitter.py``): a jittery patch is forgotten after this many.
        playback_jitter_margin_ms: safety added to the learned hold beyond the device's own
            read-ahead (its output latency), for the callback's timing wobble.
        flush_fade_ms: fade-out length when a flush drops queued audio (at most 5 ms).
        resample_quality: soxr quality of the playback resampler for non-integer rate ratios
            ("QQ", "LQ", "MQ", "HQ", "VHQ"); integer upsampling uses ``streamresample``.
        output_on_demand: open the speaker as its own output stream, started when assistant
            audio is queued and aborted on ``flush()`` and when playback has gone idle: audio
            then reaches the DAC without waiting behind the device buffer's silence, and a
            flush silences the speaker at once instead of after the device latency. The mic
            runs on its own input stream and never stops (the default: measured in
            docs/benchmarks.md). False: one full-duplex stream (two only when the devices
            differ) that always runs, with the device latency in front of every flush.
        output_idle_s: with ``output_on_demand``, stop the output this long after its last
            sample left the DAC.
        far_lead_ms: with separate streams, the far-end reference handed to the AEC with a mic
            block is the audio that left the DAC this long after the block was captured (from
            PortAudio's DAC times), so the echo always lags its reference by a fixed delay.
        stall_timeout_s: no callbacks for this long means the stream stalled.
        startup_grace_s: a freshly opened stream may take this long to deliver its first callback.
        watchdog_period_s: how often the watchdog looks at the stream.
        close_timeout_s: longest wait for a dying stream to close before it is abandoned.
        engine_poll_s: sleep of the engine thread when the capture ring is empty.
    """

    input_device: str | None = None
    output_device: str | None = None
    device_rate: int = 48_000
    block_ms: int = 10
    latency_s: float = 0.01
    session_in_rate: int = 24_000
    session_out_rate: int = 24_000
    chunk_ms: int = 20
    capture_ring_blocks: int = 128
    far_ring_blocks: int = 32
    playback_capacity_s: float = 120.0
    playback_segments: int = 8192
    item_slots: int = 256
    playback_prebuffer_ms: int = 0
    playback_max_buffer_ms: int = 200
    playback_max_jitter_ms: int = 200
    playback_jitter_memory: int = 8
    playback_jitter_margin_ms: float = 10.0
    flush_fade_ms: float = 4.0
    resample_quality: str = "HQ"
    output_on_demand: bool = True
    output_idle_s: float = 0.3
    far_lead_ms: float = 10.0
    stall_timeout_s: float = 0.5
    startup_grace_s: float = 3.0
    watchdog_period_s: float = 0.05
    close_timeout_s: float = 1.0
    engine_poll_s: float = 0.003

    def __post_init__(self) -> None:
        if self.device_rate <= 0 or self.session_in_rate <= 0 or self.session_out_rate <= 0:
            raise ValueError("sample rates must be positive")
        if self.device_rate * self.block_ms % 1000:
            raise ValueError(
                f"block_ms={self.block_ms} is not a whole number of frames at {self.device_rate} Hz"
            )
        for name in ("capture_ring_blocks", "far_ring_blocks", "playback_segments", "item_slots"):
            if not _is_power_of_two(getattr(self, name)):
                raise ValueError(f"{name} must be a power of two")
        if not 0.0 <= self.flush_fade_ms <= 5.0:
            raise ValueError("flush_fade_ms must be within 0..5 ms")
        if self.flush_fade_ms > self.block_ms:
            raise ValueError("flush_fade_ms must fit in one block")
        if not 0 <= self.playback_prebuffer_ms <= self.playback_max_buffer_ms:
            raise ValueError("playback_prebuffer_ms must be within 0..playback_max_buffer_ms")
        if self.output_idle_s <= 0.0:
            raise ValueError("output_idle_s must be positive")
        if not 0.0 <= self.far_lead_ms <= 100.0:
            raise ValueError("far_lead_ms must be within 0..100 ms")
        if self.playback_jitter_memory < 1:
            raise ValueError("playback_jitter_memory must be at least 1")
        if not 0.0 <= self.playback_jitter_margin_ms <= 100.0:
            raise ValueError("playback_jitter_margin_ms must be within 0..100 ms")
        if self.resample_quality not in ("QQ", "LQ", "MQ", "HQ", "VHQ"):
            raise ValueError(f"unknown resample_quality {self.resample_quality!r}")

    @property
    def block_frames(self) -> int:
        """Frames per callback block at the device rate."""
        return self.device_rate * self.block_ms // 1000

    @property
    def playback_capacity_frames(self) -> int:
        """Capacity of the playback ring in device frames, rounded up to a power of two."""
        wanted = max(int(self.playback_capacity_s * self.device_rate), self.block_frames * 4)
        return 1 << (wanted - 1).bit_length()

    @property
    def split_streams(self) -> bool:
        """True when the input and output run as separate streams (on demand, or devices differ)."""
        return self.output_on_demand or self.input_device != self.output_device

    @property
    def playback_target_bound_ms(self) -> int:
        """Largest jitter-buffer target: the jitter bound, but never below the prebuffer."""
        bound = min(self.playback_max_buffer_ms, self.playback_max_jitter_ms)
        return max(bound, self.playback_prebuffer_ms)

    def ms_to_frames(self, ms: float) -> int:
        """Convert milliseconds to device frames (rounded down)."""
        return int(ms * self.device_rate / 1000)
