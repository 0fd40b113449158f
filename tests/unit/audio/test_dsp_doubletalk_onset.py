"""The double-talk detector dates a near episode back to Speex's raw onset evidence.

WebRTC's output is held at its echo-only floor here until it confirms, so only the Speex mark
can date the onset (the WebRTC mark: test_dsp_doubletalk_aec3_onset.py).
"""

from __future__ import annotations

from app.audio.dsp.doubletalk import DoubleTalkDetector, DoubleTalkSettings

ECHO = 10 ** (-25 / 10)  # echo power at the mic
FAR = 10 ** (-20 / 10)


def _db(x: float) -> float:
    return float(10 ** (x / 10))


def _untrusted(dtd: DoubleTalkDetector, frames: int = 400) -> None:
    """Echo only, with Speex leaking within a few dB on some frames: its evidence is untrusted."""
    for i in range(frames):
        leak = -2.0 if i % 5 == 0 else -25.0
        dtd.update(ECHO, FAR, ECHO * _db(leak), ECHO * _db(-60.0))
    assert dtd.residual_db > dtd.settings.speex_trust_db
    assert not dtd.near


FLOOR_DB = -66.0  # WebRTC's echo-only output (60 dB under the echo) relative to the mic below


def _talk(dtd: DoubleTalkDetector, speex_db: float, webrtc_db: float, frames: int) -> list[bool]:
    """The user over the echo: the mic 6 dB up, outputs relative to it."""
    mic = ECHO * _db(6.0)
    return [dtd.update(mic, FAR, mic * _db(speex_db), mic * _db(webrtc_db)) for _ in range(frames)]


def test_an_episode_confirmed_late_is_dated_to_the_speex_onset() -> None:
    dtd = DoubleTalkDetector()
    _untrusted(dtd)
    onset = dtd.frames
    assert not any(_talk(dtd, -1.0, FLOOR_DB, 12))  # Speex says "user", untrusted: not near yet
    assert dtd.episode_onset is None
    assert all(_talk(dtd, -1.0, -5.0, 3))  # WebRTC confirms 120 ms in
    assert dtd.episode_onset == onset


def test_the_dating_is_capped_at_the_onset_lead() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(onset_lead_ms=100))
    _untrusted(dtd)
    _talk(dtd, -1.0, FLOOR_DB, 30)
    opened = dtd.frames
    _talk(dtd, -1.0, -5.0, 1)
    assert dtd.episode_onset == opened - 10


def test_without_raw_evidence_the_episode_starts_where_it_opened() -> None:
    dtd = DoubleTalkDetector()
    _untrusted(dtd)
    _talk(dtd, -25.0, FLOOR_DB, 10)  # Speex shows nothing
    opened = dtd.frames
    _talk(dtd, -1.0, -5.0, 1)
    assert dtd.episode_onset == opened


def test_a_run_broken_by_a_long_gap_starts_again() -> None:
    dtd = DoubleTalkDetector(settings=DoubleTalkSettings(onset_gap_ms=30))
    _untrusted(dtd)
    _talk(dtd, -1.0, FLOOR_DB, 5)
    _talk(dtd, -25.0, FLOOR_DB, 6)  # 60 ms without evidence: the earlier run is not this onset
    second = dtd.frames
    _talk(dtd, -1.0, FLOOR_DB, 4)
    _talk(dtd, -1.0, -5.0, 1)
    assert dtd.episode_onset == second


def test_dating_never_opens_an_episode_and_is_dropped_without_echo() -> None:
    dtd = DoubleTalkDetector()
    _untrusted(dtd)
    assert not any(_talk(dtd, -1.0, FLOOR_DB, 40))
    assert dtd.episode_onset is None
    for _ in range(60):
        dtd.update(ECHO * 1e-3, 0.0, ECHO * 1e-6, ECHO * 1e-9)
    assert not dtd.echo_possible and dtd.episode_onset is None
