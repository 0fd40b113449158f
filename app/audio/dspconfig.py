"""Settings of the capture DSP chain: backend, echo cancellation, noise, gain, high-pass and VAD."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BackendName = Literal["speex", "webrtc", "hybrid"]
BACKENDS: tuple[BackendName, ...] = ("speex", "webrtc", "hybrid")
DEFAULT_BACKEND: BackendName = "hybrid"


@dataclass(frozen=True, slots=True)
class DspConfig:
    """Every switch and knob of the capture chain (immutable; replace it to reconfigure).

    Attributes:
        backend: ``"speex"`` (SpeexDSP), ``"webrtc"`` (WebRTC APM) or ``"hybrid"`` (both run;
            a double-talk detector sends WebRTC's output upstream and to the VAD while only the
            assistant talks, Speex's once the user talks; see docs/benchmarks.md).
        aec: echo cancellation on/off.
        aec_tail_ms: echo tail the SpeexDSP filter covers (WebRTC AEC3 adapts by itself).
        ns: noise suppression on/off.
        ns_level: 0 (mild) … 3 (very aggressive); WebRTC levels, mapped to dB for SpeexDSP.
        agc: automatic gain control on/off.
        agc_target_dbfs: SpeexDSP AGC target level (WebRTC AGC2 picks its own level).
        agc_max_gain_db: largest gain the AGC may apply.
        high_pass: remove rumble and DC below about 80 Hz.
        vad_threshold: speech probability that starts speech (stopping uses threshold − 0.15).
        vad_min_speech_ms: speech shorter than this is ignored (no SpeechStarted).
        vad_min_silence_ms: silence needed before SpeechStopped.
    """

    backend: BackendName = DEFAULT_BACKEND
    aec: bool = True
    aec_tail_ms: int = 200
    ns: bool = True
    ns_level: int = 1
    agc: bool = False
    agc_target_dbfs: float = -18.0
    agc_max_gain_db: float = 20.0
    high_pass: bool = True
    vad_threshold: float = 0.5
    vad_min_speech_ms: int = 120
    vad_min_silence_ms: int = 500

    def __post_init__(self) -> None:
        """Reject values no backend can honour, with a message naming the field."""
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if not 20 <= self.aec_tail_ms <= 1000:
            raise ValueError("aec_tail_ms must be between 20 and 1000")
        if not 0 <= self.ns_level <= 3:
            raise ValueError("ns_level must be 0, 1, 2 or 3")
        if not -60.0 <= self.agc_target_dbfs <= 0.0:
            raise ValueError("agc_target_dbfs must be between -60 and 0")
        if not 0.0 <= self.agc_max_gain_db <= 60.0:
            raise ValueError("agc_max_gain_db must be between 0 and 60")
        if not 0.0 < self.vad_threshold < 1.0:
            raise ValueError("vad_threshold must be between 0 and 1 (exclusive)")
        if self.vad_min_speech_ms < 0 or self.vad_min_silence_ms < 0:
            raise ValueError("vad_min_speech_ms and vad_min_silence_ms must not be negative")
