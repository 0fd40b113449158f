"""The hybrid's double-talk detector must see its cancellers at unity gain, AGC on or off.

The detector reads "the cancellers' output is near the mic level" as the user talking. With the
app's default settings (AGC on, up to 30 dB) the cancellers' own AGC lifted residual echo to the
mic level: through the PulseAudio echo loop nearly every spoken answer cut itself off. These tests
run the real SpeexDSP + WebRTC chains on synthetic echo with the app's default stage settings.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.dsp.hybrid import HybridBackend
from app.audio.dspconfig import DspConfig
from app.bench.echo_scene import EchoScene, make_echo_scene
from app.harness.speech import SpeechFixtures

RATE = 16000
N = RATE // 100
FAR_TEXT = (
    "Hello there, I am your desktop assistant. The weather today is sunny with a light breeze "
    "from the west, and tomorrow it will rain in the afternoon. Shall I set a timer?"
)
NEAR_TEXT = "wait, stop talking please"
WARMUP_FRAMES = 150  # the detector's own 1 s warm-up plus margin


def _app_config(agc: bool) -> DspConfig:
    """The stage settings the app ships with (app.settings.schema audio.* defaults)."""
    return DspConfig(agc=agc, ns_level=2, agc_max_gain_db=30.0, vad_min_speech_ms=150)


def _run(config: DspConfig, scene: EchoScene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    backend = HybridBackend(config, RATE)
    up, det, gate = [], [], []
    try:
        for i in range(0, len(scene.mic) - N + 1, N):
            frame = backend.process(scene.mic[i : i + N], scene.far[i : i + N])
            up.append(frame.upstream.copy())
            det.append(frame.detect.copy())
            gate.append(frame.speech_ok)
    finally:
        backend.close()
    return np.concatenate(up), np.concatenate(det), np.array(gate)


@pytest.fixture(scope="module")
def far_speech(speech: SpeechFixtures) -> np.ndarray:
    far, _ = SpeechFixtures.load(speech.say(FAR_TEXT, "espeak", RATE))
    return far


def test_agc_does_not_open_the_gate_on_echo(far_speech: np.ndarray) -> None:
    scene = make_echo_scene(far_speech, RATE, 12.0, delay_s=0.06)
    _up_on, det_on, gate_on = _run(_app_config(True), scene)
    _up_off, det_off, gate_off = _run(_app_config(False), scene)
    open_on = int(gate_on[WARMUP_FRAMES:].sum())
    open_off = int(gate_off[WARMUP_FRAMES:].sum())
    # Before the fix: 227 echo-only frames flagged as the user with AGC on, 72 without.
    assert open_on <= open_off + 5
    np.testing.assert_array_equal(det_on, det_off)  # the VAD hears the unity-gain signal


def test_agc_still_lifts_a_quiet_user_upstream(
    far_speech: np.ndarray, speech: SpeechFixtures
) -> None:
    near, _ = SpeechFixtures.load(speech.say(NEAR_TEXT, "espeak", RATE))
    scene = make_echo_scene(
        far_speech, RATE, 12.0, near, (5.0, 8.0), delay_s=0.06, near_level_db=-6.0
    )
    up_on, _det, _gate = _run(_app_config(True), scene)
    up_off, _det, _gate = _run(_app_config(False), scene)
    s0, s1 = scene.near_spans[-1]
    on = float(np.mean(np.square(up_on[s0:s1], dtype=np.float64)))
    off = float(np.mean(np.square(up_off[s0:s1], dtype=np.float64)))
    assert 10.0 * np.log10(on / off) > 3.0
