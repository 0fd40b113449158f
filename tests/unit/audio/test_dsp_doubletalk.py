"""The double-talk detector on scripted frame levels, and the frame delay line."""

from __future__ import annotations

import numpy as np

from app.audio.dsp.base import DelayLine
from app.audio.dsp.doubletalk import DoubleTalkDetector, DoubleTalkSettings

ECHO = 10 ** (-25 / 10)  # echo power at the mic (−25 dBFS)
FAR = 10 ** (-20 / 10)


def _db(x: float) -> float:
    return float(10 ** (x / 10))


def _echo_only(dtd: DoubleTalkDetector, frames: int, speex_db: float, webrtc_db: float) -> int:
    """Feed echo-only frames (outputs relative to the mic); return how many were called near."""
    rng = np.random.default_rng(1)
    near = 0
    for _ in range(frames):
        s = speex_db + float(rng.normal(0.0, 3.0))
        near += dtd.update(ECHO, FAR, ECHO * _db(s), ECHO * _db(webrtc_db))
    return near


def test_no_far_end_means_no_echo_and_the_user_is_passed() -> None:
    dtd = DoubleTalkDetector()
    assert dtd.update(ECHO, 0.0, ECHO, ECHO * 0.1)
    assert not dtd.echo_possible and dtd.near and dtd.confirmed


def test_echo_only_is_not_near_once_the_far_end_plays() -> None:
    dtd = DoubleTalkDetector()
    assert _echo_only(dtd, 1000, speex_db=-30.0, webrtc_db=-60.0) == 0
    assert dtd.echo_possible and not dtd.near
    assert dtd.residual_db < -20.0  # Speex proved it cancels: its evidence is trusted


def test_echo_stays_possible_for_the_hold_then_releases() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(echo_hold_ms=500))
    _echo_only(dtd, 100, speex_db=-30.0, webrtc_db=-60.0)
    quiet = [dtd.update(ECHO * 1e-3, 0.0, ECHO * 1e-6, ECHO * 1e-9) for _ in range(60)]
    assert not any(quiet[:45])  # 450 ms: echo may still be arriving
    assert all(quiet[52:])


def test_speex_evidence_starts_near_fast_when_speex_is_trusted() -> None:
    dtd = DoubleTalkDetector()
    _echo_only(dtd, 1000, speex_db=-30.0, webrtc_db=-60.0)
    # The user starts: Speex passes them (−2 dB vs the mic), AEC3 still suppresses (−40 dB).
    decided = [dtd.update(ECHO * 2, FAR, ECHO * 2 * _db(-2), ECHO * 2 * _db(-40)) for _ in range(3)]
    assert decided == [False, True, True]  # two frames of evidence
    assert not dtd.confirmed
    # Without confirmation the hold is short (50 ms), so a blip does not linger.
    after = [dtd.update(ECHO, FAR, ECHO * 1e-3, ECHO * 1e-6) for _ in range(10)]
    assert after[-1] is False


def test_a_speex_leak_that_aec3_holds_far_below_the_mic_is_not_the_user() -> None:
    dtd = DoubleTalkDetector()
    _echo_only(dtd, 1000, speex_db=-30.0, webrtc_db=-60.0)
    assert dtd.residual_db < DoubleTalkSettings().speex_trust_db  # Speex is trusted
    # Frame levels (mic, Speex, AEC3 output; dBFS) of a self-interrupt on the e2e rig: the
    # loopback's echo path moved, Speex's output came within 4–9 dB of the mic on echo alone
    # for six frames, AEC3 kept its output on its floor 70–80 dB under the mic.
    leak = [(-35.4, -40.6, -108.1), (-28.0, -35.1, -108.0), (-23.9, -32.1, -107.7),
            (-26.3, -35.0, -108.1), (-29.3, -37.8, -107.1), (-32.7, -36.6, -97.5)]  # fmt: skip
    decided = [dtd.update(_db(m), FAR, _db(s), _db(w)) for m, s, w in leak]
    assert not any(decided) and not dtd.evidence
    # The same Speex levels with AEC3 30 dB under the mic (a user it suppresses) are near speech.
    decided = [dtd.update(_db(m), FAR, _db(s), _db(m - 30.0)) for m, s, _w in leak]
    assert decided[1:] == [True] * 5


def test_webrtc_evidence_confirms_and_holds_through_word_gaps() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(hang_long_ms=300))
    _echo_only(dtd, 300, speex_db=-30.0, webrtc_db=-60.0)
    assert dtd.update(ECHO * 2, FAR, ECHO * 2 * _db(-1), ECHO * 2 * _db(-6))
    assert dtd.confirmed
    gap = [dtd.update(ECHO, FAR, ECHO * 1e-3, ECHO * 1e-6) for _ in range(35)]
    assert all(gap[:28]) and not gap[-1]


def test_untrusted_speex_cannot_start_near_but_webrtc_can() -> None:
    dtd = DoubleTalkDetector()
    # A drifting echo path: Speex's output often sits near the mic level on echo alone.
    assert _echo_only(dtd, 1000, speex_db=-3.0, webrtc_db=-60.0) == 0
    assert dtd.residual_db > dtd.settings.speex_trust_db
    assert not any(dtd.update(ECHO, FAR, ECHO * _db(3), ECHO * _db(-50)) for _ in range(20))
    assert dtd.update(ECHO, FAR, ECHO, ECHO * _db(-8))


def test_quiet_moments_of_the_far_end_are_not_evidence() -> None:
    dtd = DoubleTalkDetector()
    _echo_only(dtd, 1000, speex_db=-30.0, webrtc_db=-60.0)
    faint = ECHO * _db(-25)  # far end almost silent: Speex's output equals the faint mic level
    assert not any(dtd.update(faint, FAR, faint, faint * _db(-40)) for _ in range(10))


def test_onset_frames_are_kept_out_of_the_echo_statistics() -> None:
    dtd = DoubleTalkDetector()
    _echo_only(dtd, 1000, speex_db=-30.0, webrtc_db=-60.0)
    before = dtd.residual_db
    # 20 frames the detector misses (too quiet for Speex evidence), then AEC3 confirms speech.
    for _ in range(20):
        dtd.update(ECHO, FAR, ECHO * _db(-12), ECHO * _db(-50))
    dtd.update(ECHO, FAR, ECHO, ECHO * _db(-5))
    _echo_only(dtd, 40, speex_db=-30.0, webrtc_db=-60.0)
    assert dtd.residual_db <= before + 1.0


def test_reset_forgets_state() -> None:
    dtd = DoubleTalkDetector()
    _echo_only(dtd, 500, speex_db=-30.0, webrtc_db=-60.0)
    dtd.reset()
    assert dtd.near and not dtd.echo_possible and dtd.residual_db == 0.0


def test_delay_line_delays_by_exactly_its_length() -> None:
    x = np.arange(1600, dtype=np.float32)
    for delay in (0, 64, 160, 224, 400):
        line = DelayLine(delay, 160)
        y = np.concatenate([line.process(x[i : i + 160]).copy() for i in range(0, 1600, 160)])
        np.testing.assert_array_equal(y[delay:], x[: 1600 - delay])
        assert not y[:delay].any()


def test_nothing_counts_as_evidence_while_the_cancellers_warm_up() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(warmup_ms=1000))
    # Unconverged AEC3 leaks echo at −10 dB: during warm-up that must not pass as the user.
    leaky = [dtd.update(ECHO, FAR, ECHO * _db(-3), ECHO * _db(-10)) for _ in range(100)]
    assert not any(leaky)
    assert dtd.update(ECHO, FAR, ECHO * _db(-3), ECHO * _db(-10))  # after 1 s it would count


def test_evidence_marks_only_frames_that_showed_the_user() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(hang_long_ms=300))
    _echo_only(dtd, 300, speex_db=-30.0, webrtc_db=-60.0)
    dtd.update(ECHO * 2, FAR, ECHO * 2 * _db(-1), ECHO * 2 * _db(-6))
    assert dtd.near and dtd.evidence
    dtd.update(ECHO, FAR, ECHO * 1e-3, ECHO * 1e-6)  # a gap between words: held, no evidence
    assert dtd.near and not dtd.evidence
