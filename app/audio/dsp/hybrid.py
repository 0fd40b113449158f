"""Hybrid backend: WebRTC AEC3 output drives detection, SpeexDSP output goes upstream.

Why (measured by ``voxdesk bench audio``, see docs/benchmarks.md): WebRTC AEC3 removes far more
echo and its output never lets the assistant's own voice trigger the VAD, so barge-in detection
listens to it; but it attenuates the user by several dB during double talk, which hurts
transcription, so what is sent upstream comes from SpeexDSP (echo canceller + preprocessor with
residual echo suppression), which keeps the user intact. Both run on every frame so each keeps its
adaptive state converged; the cost is the sum of both (well under the 0.3 ms budget).
"""

from __future__ import annotations

from app.audio.dsp.base import DspBackend, DspFrame, Frame
from app.audio.dsp.speex import SpeexBackend
from app.audio.dsp.webrtc import WebRtcBackend
from app.audio.dspconfig import DspConfig


class HybridBackend(DspBackend):
    """Run SpeexDSP and WebRTC APM side by side on the same frames.

    Args:
        config: stage settings, applied to both chains.
        rate: sample rate (must suit WebRTC: 16/24/32/48 kHz).
    """

    name = "hybrid"

    def __init__(self, config: DspConfig, rate: int) -> None:
        super().__init__(rate)
        self._speex = SpeexBackend(config, rate)
        self._webrtc = WebRtcBackend(config, rate)
        self.latency_samples = self._speex.latency_samples
        self.detect_latency_samples = self._speex.latency_samples
        self._speaking = False

    def process(self, near: Frame, far: Frame) -> DspFrame:
        """Clean one frame with both chains; upstream from Speex, detection from WebRTC."""
        detect = self._webrtc.process(near, far).detect
        upstream = self._speex.process(near, far).upstream
        return DspFrame(upstream, detect if self._speaking else upstream)

    def set_assistant_speaking(self, speaking: bool) -> None:
        """Detect on WebRTC's output while the assistant talks, else on Speex's."""
        self._speaking = speaking
        chain = self._webrtc if speaking else self._speex
        self.detect_latency_samples = chain.latency_samples

    @property
    def speech_probability(self) -> float | None:
        """WebRTC's voice probability (the detection path)."""
        return self._webrtc.speech_probability

    def close(self) -> None:
        """Release both chains."""
        self._speex.close()
        self._webrtc.close()
