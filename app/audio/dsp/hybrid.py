"""Hybrid backend: WebRTC AEC3 while only the assistant talks, SpeexDSP once the user joins in.

Why (measured by ``voxdesk bench audio``, see docs/benchmarks.md): WebRTC AEC3 removes far more
echo (60 dB through the loopback against Speex's 15–25 dB) and never lets the assistant's own
voice reach the VAD, but during double talk it attenuates the user and swallows onsets; SpeexDSP
(echo canceller + preprocessor with residual echo suppression) keeps the user intact but leaves
echo. Both run on every frame so each keeps its adaptive state converged, and a double-talk
detector (:mod:`app.audio.dsp.doubletalk`) picks, per 10 ms frame, which output is sent upstream
and to the VAD: WebRTC's while echo is possible and no near talker is present, Speex's otherwise,
with a one-frame linear crossfade at each switch. Both chains run without their own AGC (an
AGC lifting residual echo makes echo look like the user to the detector); when AGC is on, a
speech-level AGC (:mod:`app.audio.dsp.gain`) is applied to ``upstream`` after the mix, adapted
on the user's frames only, while ``detect`` (the VAD's input) stays at unity gain. Speex's
output is delayed to WebRTC's latency so the two are sample-aligned and the crossfade does not
comb-filter. The frame's ``speech_ok``
gate is open only on frames where the detector saw the user (or no echo is possible), so the VAD
never starts speech on the hold frames after the user stopped, when Speex's echo leaks through.

While the detector does not trust Speex (echo possible and Speex's tracked echo-only residual
above ``speex_trust_db``: an echo path that moves, as through a sound-server loopback), the VAD's
input ``detect`` is WebRTC's output even when Speex's goes upstream: Speex's output is then mostly
echo, and a canceller transient that opened the gate let the VAD start speech on it. Replayed
from a recorded e2e run (6 min of answers with the loopback echo, nobody speaking), this took
false speech starts from 16 to 3; in a double-talk scene over the same loopback it also
missed fewer interruptions (AEC3 passes the user once the detector has confirmed them).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from app.audio.dsp.base import DelayLine, DspBackend, DspFrame, Frame
from app.audio.dsp.doubletalk import DoubleTalkDetector, DoubleTalkSettings
from app.audio.dsp.gain import SpeechAgc
from app.audio.dsp.speex import SpeexBackend
from app.audio.dsp.webrtc import WebRtcBackend
from app.audio.dspconfig import DspConfig


def _power(x: Frame) -> float:
    """Mean square of one frame."""
    return float(np.dot(x, x)) / len(x)


class HybridBackend(DspBackend):
    """Run SpeexDSP and WebRTC APM side by side; switch between their outputs on double talk.

    Args:
        config: stage settings, applied to both chains.
        rate: sample rate (must suit WebRTC: 16/24/32/48 kHz).
        doubletalk: detector thresholds; the tuned defaults when omitted.

    Attributes:
        near_active: the detector's last decision (True while Speex's output is selected).
        speex_frames: frames whose output came (mostly) from Speex, since construction.
    """

    name = "hybrid"

    def __init__(
        self, config: DspConfig, rate: int, doubletalk: DoubleTalkSettings | None = None
    ) -> None:
        super().__init__(rate)
        n = self.frame_size
        # The detector compares the cancellers' output levels with the mic level: they must
        # run at unity gain, so the AGC runs after the mix (see app.audio.dsp.gain).
        unity = dataclasses.replace(config, agc=False)
        self._speex = SpeexBackend(unity, rate)
        self._webrtc = WebRtcBackend(unity, rate)
        self._agc = (
            SpeechAgc(config.agc_target_dbfs, config.agc_max_gain_db, n) if config.agc else None
        )
        latency = max(self._speex.latency_samples, self._webrtc.latency_samples)
        self._speex_delay = DelayLine(latency - self._speex.latency_samples, n)
        self._webrtc_delay = DelayLine(latency - self._webrtc.latency_samples, n)
        self._mic_delay = DelayLine(latency, n)
        self.latency_samples = self.detect_latency_samples = latency
        self._dtd = DoubleTalkDetector(frame_ms=1000 * n // rate, settings=doubletalk)
        self._use_aec = config.aec
        self._gain = 1.0  # weight of Speex's output in the mix (1 = Speex only)
        self._ramp = np.arange(1, n + 1, dtype=np.float32) / n
        self._g = np.zeros(n, dtype=np.float32)
        self._out = np.zeros(n, dtype=np.float32)
        self.near_active = True
        self.speex_frames = 0

    def process(self, near: Frame, far: Frame) -> DspFrame:
        """Clean one frame with both chains and mix them by the double-talk decision."""
        w = self._webrtc_delay.process(self._webrtc.process(near, far).upstream)
        s = self._speex_delay.process(self._speex.process(near, far).upstream)
        mic = self._mic_delay.process(near)
        if self._use_aec:
            target = self._dtd.update(_power(mic), _power(far), _power(s), _power(w))
        else:
            target = True
        self.near_active = target
        goal = 1.0 if target else 0.0
        out = self._out
        if goal == self._gain:
            out[:] = s if goal == 1.0 else w
        else:
            # Linear crossfade over this frame from the previous weight to the new one.
            np.multiply(self._ramp, goal - self._gain, out=self._g)
            self._g += self._gain
            np.subtract(s, w, out=out)
            out *= self._g
            out += w
            self._gain = goal
        if goal == 1.0:
            self.speex_frames += 1
        user = self._dtd.evidence or not self._use_aec
        detect = w if self._use_aec and self._dtd.speex_untrusted else out
        if self._agc is None:
            return DspFrame(out, detect, user)
        # Adapt only on the user: with no echo possible the detector's evidence is always on,
        # so silence and noise are kept out by the stage's own level floor.
        return DspFrame(self._agc.process(out, user), detect, user, out)

    @property
    def echo_possible(self) -> bool:
        """The far end played recently enough for echo to be in the microphone."""
        return self._dtd.echo_possible

    @property
    def near_onset_sample(self) -> int | None:
        """While the user talks over echo: where that began, in ``detect`` samples (else None)."""
        return self._episode_sample(self._dtd.episode_onset)

    @property
    def near_evidence_sample(self) -> int | None:
        """The same, dated by Speex's evidence alone (see ``DoubleTalkDetector``; else None)."""
        return self._episode_sample(self._dtd.episode_evidence)

    def _episode_sample(self, frame: int | None) -> int | None:
        if not self.near_active or frame is None or not self._dtd.echo_possible:
            return None
        return frame * self.frame_size

    @property
    def speech_probability(self) -> float | None:
        """SpeexDSP's speech probability (its preprocessor accounts for residual echo)."""
        return self._speex.speech_probability

    def close(self) -> None:
        """Release both chains."""
        self._speex.close()
        self._webrtc.close()
