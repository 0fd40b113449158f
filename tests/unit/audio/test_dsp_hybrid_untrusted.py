"""Over an echo path SpeexDSP cannot follow, the VAD listens to WebRTC AEC3's output.

Through a sound-server loopback whose delay keeps moving, Speex leaves the echo within a few dB of
the microphone; fed to the VAD, that echo started "speech" whenever the double-talk detector
opened the gate on a canceller's transient (the e2e bench's self-interrupts). AEC3 follows such a
path; its output is what the VAD must hear while Speex is not trusted.
"""

from __future__ import annotations

import numpy as np

from app.audio.dsp.hybrid import HybridBackend
from app.audio.dspconfig import DspConfig

RATE = 16_000
FRAME = 160


def _moving_echo(seconds: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    far = (rng.standard_normal(int(seconds * RATE)) * 0.1).astype(np.float32)
    near = np.zeros_like(far)
    step = RATE // 5  # the path's delay moves every 200 ms
    for k, start in enumerate(range(0, len(far), step)):
        delay = RATE * (20 if k % 2 == 0 else 35) // 1000
        end = min(start + step, len(far))
        src = np.arange(start, end) - delay
        ok = src >= 0
        near[start:end][ok] = 0.5 * far[src[ok]]
    for a, b in ((2.5, 3.5), (4.5, 5.5)):  # the user talks over it (uncorrelated with far)
        i, j = int(a * RATE), int(b * RATE)
        near[i:j] += (rng.standard_normal(j - i) * 0.1).astype(np.float32)
    return near, far


def test_detect_is_webrtc_output_while_speex_is_untrusted() -> None:
    near, far = _moving_echo(6.0)
    hybrid = HybridBackend(DspConfig(backend="hybrid", agc=False), RATE)
    reference = HybridBackend(DspConfig(backend="webrtc", agc=False), RATE)
    untrusted = speex_selected = 0
    try:
        for i in range(0, len(near) - FRAME + 1, FRAME):
            frame = hybrid.process(near[i : i + FRAME], far[i : i + FRAME])
            w = reference._webrtc_delay.process(
                reference._webrtc.process(near[i : i + FRAME], far[i : i + FRAME]).upstream
            )
            if i >= 2 * RATE and hybrid._dtd.speex_untrusted:
                untrusted += 1
                speex_selected += hybrid.near_active
                np.testing.assert_allclose(frame.detect, w, atol=1e-6)
    finally:
        hybrid.close()
        reference.close()
    assert untrusted > 100  # the moving path kept Speex untrusted for most of the take
    assert speex_selected > 20  # ...also while the user talked and Speex's output went upstream


def test_detect_follows_the_mix_when_no_echo_is_possible() -> None:
    hybrid = HybridBackend(DspConfig(backend="hybrid", agc=False), RATE)
    try:
        rng = np.random.default_rng(5)
        silence = np.zeros(FRAME, np.float32)
        for _ in range(100):
            near = (rng.standard_normal(FRAME) * 0.05).astype(np.float32)
            frame = hybrid.process(near, silence)
        assert not hybrid._dtd.speex_untrusted
        np.testing.assert_array_equal(frame.detect, frame.upstream)
    finally:
        hybrid.close()
