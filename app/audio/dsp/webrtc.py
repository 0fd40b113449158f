"""WebRTC APM backend (AEC3, NS, AGC2, high-pass) from the ``pywebrtc-audio`` wheel."""

from __future__ import annotations

import numpy as np

from app.audio.dsp.base import DspBackend, DspFrame, DspUnavailableError, Frame
from app.audio.dspconfig import DspConfig

SUPPORTED_RATES = (16000, 24000, 32000, 48000)
# Measured output delay (cross-correlation of speech in vs. out): AEC3 8 ms, NS 6 ms.
AEC_DELAY_MS = 8
NS_DELAY_MS = 6


class WebRtcBackend(DspBackend):
    """WebRTC ``AudioProcessor`` on 10 ms float32 frames.

    AEC3 finds the acoustic delay itself (``stream_delay_ms`` stays 0). AGC2 adapts towards its own
    level: ``agc_max_gain_db`` bounds it, ``agc_target_dbfs`` is a SpeexDSP-only setting.

    Args:
        config: which stages run and their settings.
        rate: 16000, 24000, 32000 or 48000.
    """

    name = "webrtc"

    def __init__(self, config: DspConfig, rate: int) -> None:
        super().__init__(rate)
        if rate not in SUPPORTED_RATES:
            raise ValueError(f"WebRTC APM runs at {SUPPORTED_RATES} Hz, not {rate}")
        try:
            import pywebrtc_audio
        except ImportError as exc:
            raise DspUnavailableError(
                "The WebRTC audio processing wheel is missing; install it with: "
                "pip install pywebrtc-audio"
            ) from exc
        self._aec = config.aec
        self._apm = pywebrtc_audio.AudioProcessor(
            sample_rate=rate,
            num_channels=1,
            echo_cancellation=config.aec,
            noise_suppression=config.ns,
            high_pass_filter=config.high_pass,
            auto_gain_control=config.agc,
            ns_level=config.ns_level,
            agc_gain_db=0.0,
            agc_max_gain_db=config.agc_max_gain_db,
            stream_delay_ms=0,
        )
        self._last_prob: float | None = None
        delay_ms = AEC_DELAY_MS * config.aec + NS_DELAY_MS * config.ns
        self.latency_samples = self.detect_latency_samples = rate * delay_ms // 1000

    def process(self, near: Frame, far: Frame) -> DspFrame:
        """Run one frame through the APM (far end first, then the microphone)."""
        near32 = np.ascontiguousarray(near, dtype=np.float32)
        if self._aec:
            out = self._apm.process(near32, np.ascontiguousarray(far, dtype=np.float32))
        else:
            out = self._apm.process(near32)
        self._last_prob = float(self._apm.speech_probability)
        result: Frame = np.asarray(out, dtype=np.float32)
        return DspFrame(result, result)

    @property
    def speech_probability(self) -> float | None:
        """APM's own voice probability for the last frame."""
        return self._last_prob

    def reset(self) -> None:
        """Forget adapted state (echo path, noise estimate, gain)."""
        self._apm.reset()
