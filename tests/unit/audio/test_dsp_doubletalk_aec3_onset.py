"""The double-talk detector dates an episode back to where WebRTC's output left its echo floor.

Scenes are per-frame mean squares: the echo at the mic, Speex leaking within a few dB of it now
and then (so Speex stays untrusted, as through a sound-server loopback), WebRTC's output 60 dB
under the mic on echo alone. The user then talks with Speex showing no jump to the mic level
(no raw Speex evidence) while WebRTC's output rises out of its floor long before it confirms.
"""

from __future__ import annotations

import random

from app.audio.dsp.doubletalk import DoubleTalkDetector

ECHO = 10 ** (-25 / 10)  # echo power at the mic
FAR = 10 ** (-20 / 10)
FLOOR_DB = -60.0  # WebRTC's echo-only output, relative to the echo


def _db(x: float) -> float:
    return float(10 ** (x / 10))


def _echo(
    dtd: DoubleTalkDetector, frames: int, rng: random.Random, aec_db: float = FLOOR_DB
) -> None:
    """Echo only: Speex untrusted, WebRTC's output ``aec_db`` under the echo (±2 dB)."""
    for i in range(frames):
        leak = -2.0 if i % 5 == 0 else -25.0
        dtd.update(ECHO, FAR, ECHO * _db(leak), ECHO * _db(aec_db + rng.uniform(-2.0, 2.0)))


def _user(dtd: DoubleTalkDetector, aec_db: float, frames: int) -> list[bool]:
    """The user over the echo (mic 6 dB up), Speex 20 dB under the mic: no raw Speex evidence."""
    mic = ECHO * _db(6.0)
    return [dtd.update(mic, FAR, mic * _db(-20.0), ECHO * _db(aec_db)) for _ in range(frames)]


def _converged(seed: int = 1, aec_db: float = FLOOR_DB) -> tuple[DoubleTalkDetector, random.Random]:
    dtd = DoubleTalkDetector()
    rng = random.Random(seed)
    _echo(dtd, 400, rng, aec_db)
    assert dtd.speex_untrusted and not dtd.near
    return dtd, rng


def test_an_onset_speex_misses_is_dated_to_webrtcs_rise_out_of_its_floor() -> None:
    dtd, _ = _converged()
    onset = dtd.frames
    # A faint first syllable 10 dB over WebRTC's floor, a 50 ms gap back at the floor, then
    # louder: nothing near yet (no WebRTC evidence, Speex shows nothing).
    assert not any(_user(dtd, FLOOR_DB + 10.0, 6))
    assert not any(_user(dtd, FLOOR_DB + 1.0, 5))
    assert not any(_user(dtd, -40.0, 9))
    assert dtd.episode_onset is None
    opened = dtd.frames
    assert all(_user(dtd, 0.0, 3))  # WebRTC confirms 200 ms in
    assert dtd.episode_onset is not None
    assert abs(dtd.episode_onset - onset) <= 2  # within 20 ms of the true onset
    # The decision's evidence is Speex's mark alone (none here): where the episode opened.
    assert dtd.episode_evidence == opened


def test_the_dating_stops_at_an_echo_only_stretch_before_the_onset() -> None:
    dtd, rng = _converged(2)
    _echo(dtd, 6, rng, FLOOR_DB + 15.0)  # WebRTC leaks a burst of echo...
    _echo(dtd, 15, rng)  # ...then 150 ms of echo alone at its floor
    onset = dtd.frames
    assert not any(_user(dtd, FLOOR_DB + 10.0, 8))
    assert all(_user(dtd, 0.0, 2))
    assert dtd.episode_onset is not None
    assert abs(dtd.episode_onset - onset) <= 1  # not back at the burst, 21 frames earlier


def test_a_rise_out_of_digital_silence_is_the_echo_returning_not_an_onset() -> None:
    dtd, rng = _converged(3)
    for _ in range(10):  # the far end plays, the mic feed is digital silence (a dropout)
        dtd.update(0.0, FAR, 0.0, 0.0)
    _echo(dtd, 15, rng, -30.0)  # the echo returns; WebRTC leaks while it re-converges
    opened = dtd.frames
    assert all(_user(dtd, 0.0, 2))
    assert dtd.episode_onset == opened


def test_without_a_rise_the_episode_starts_where_it_opened() -> None:
    dtd, rng = _converged(4)
    _echo(dtd, 5, rng)
    opened = dtd.frames
    assert all(_user(dtd, 0.0, 2))
    assert dtd.episode_onset == opened


def test_the_webrtc_mark_reaches_back_to_the_onset_lead_and_no_further() -> None:
    dtd, _ = _converged(5)
    lead = dtd.settings.onset_lead_ms // 10
    onset = dtd.frames
    assert not any(_user(dtd, FLOOR_DB + 10.0, lead - 5))  # confirmed 350 ms in
    assert all(_user(dtd, 0.0, 1))
    assert dtd.episode_onset == onset
    dtd, _ = _converged(6)
    assert not any(_user(dtd, FLOOR_DB + 10.0, lead + 20))
    opened = dtd.frames
    assert all(_user(dtd, 0.0, 1))
    assert dtd.episode_onset is not None
    assert opened - lead <= dtd.episode_onset <= opened


def test_a_faint_sound_under_the_audible_minimum_does_not_date_the_onset() -> None:
    # A digitally quiet loopback: WebRTC holds the echo (-25 dBFS) at about -110 dBFS.
    dtd, _ = _converged(7, aec_db=-85.0)
    assert not any(_user(dtd, -75.0, 15))  # a lead-in hiss at -100 dBFS, 10 dB out of the floor
    onset = dtd.frames
    assert not any(_user(dtd, -55.0, 6))  # the first syllable, at -80 dBFS
    assert all(_user(dtd, 0.0, 2))
    assert dtd.episode_onset == onset  # not 150 ms earlier, at the hiss
