"""Double-talk detector: a canceller output above the mic level is a path change, not the user."""

from __future__ import annotations

from app.audio.dsp.doubletalk import DoubleTalkDetector, DoubleTalkSettings

FAR = 1e-2  # -20 dBFS: the far end plays
MIC = 1e-3  # -30 dBFS: its echo (or the user) at the mic
SPEEX = 1e-3  # Speex leaves it untouched: never trusted here, WebRTC alone decides


def _decisions(webrtc_over_mic: float, frames: int = 30) -> list[bool]:
    dtd = DoubleTalkDetector(10, DoubleTalkSettings(warmup_ms=0))
    return [dtd.update(MIC, FAR, SPEEX, MIC * webrtc_over_mic) for _ in range(frames)]


def test_output_louder_than_the_mic_is_never_near_speech() -> None:
    assert not any(_decisions(4.0))  # +6 dB: a misaligned echo estimate added to the echo


def test_output_near_the_mic_level_still_confirms_the_user() -> None:
    assert all(_decisions(0.5))  # -3 dB: the user passing through AEC3
