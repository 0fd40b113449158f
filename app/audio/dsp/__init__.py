"""Capture DSP backends (echo cancellation, noise suppression, gain) behind one interface."""

from __future__ import annotations

from app.audio.dsp.base import DspBackend, DspFrame, DspUnavailableError
from app.audio.dspconfig import DspConfig

__all__ = ["DspBackend", "DspFrame", "DspUnavailableError", "create_backend"]


def create_backend(config: DspConfig, rate: int) -> DspBackend:
    """Build the backend ``config.backend`` names, at ``rate``.

    Raises:
        DspUnavailableError: the backend's native library is missing (message says what to install).
    """
    if config.backend == "speex":
        from app.audio.dsp.speex import SpeexBackend

        return SpeexBackend(config, rate)
    if config.backend == "webrtc":
        from app.audio.dsp.webrtc import WebRtcBackend

        return WebRtcBackend(config, rate)
    from app.audio.dsp.hybrid import HybridBackend

    return HybridBackend(config, rate)
