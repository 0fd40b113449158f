"""Double-talk detection from frame energies: is the user talking while the assistant's echo is?

Inputs per 10 ms frame (all time-aligned, as mean squares): the microphone, the far end, the
SpeexDSP output and the WebRTC AEC3 output. The rules rest on what the two cancellers measurably
do (docs/benchmarks.md): SpeexDSP keeps the near talker within a few dB of the microphone level
while leaving echo 15–40 dB down, so a Speex output close to the mic level is near speech (fast
onset evidence, a frame or two); WebRTC's output rises towards the mic level only some 50–150 ms
into the near talker's speech but hardly ever on echo alone (confirmation evidence).

How well Speex cancels depends on the echo path: on a fixed room response it leaves echo 30 dB
down, through a drifting sound-server loopback its output is within a few dB of the mic one frame
in ten. So Speex evidence adapts: a running ``speex_quantile`` of the Speex-over-mic ratio is
tracked on echo-only frames; Speex evidence must exceed it by ``speex_margin_db`` (and
``speex_ratio_db``), and is ignored altogether while that quantile is above ``speex_trust_db``
(from start-up until Speex has shown it cancels), leaving WebRTC evidence alone to decide. Speex
evidence must also be loud: within ``speex_level_db`` of the average echo level, since in the far
end's quiet moments Speex's output over a tiny mic level says nothing. And WebRTC must not
contradict it: its output within ``speex_corroborate_db`` of the mic. When the echo path moves
(a sound-server loopback re-timing its resampler), Speex's output jumps to the mic level on echo
alone while AEC3, which tracks the delay, holds its output 50–80 dB under the mic. AEC3 suppresses
a user's first syllables too, but less: in the e2e rig's recorded interruptions, 82–86% of the
frames where Speex's output reached the mic level in the user's first 400 ms had AEC3's output
within 50 dB of the mic, against 6–9% of such frames on echo alone. Such a leak, at a moment
Speex was trusted, was one of the rig's self-interrupts (replayed from its recording).

States: no far end within ``echo_hold_ms`` → no echo possible (``near`` and ``confirmed`` True:
nothing to hide). Otherwise WebRTC evidence makes ``near`` and ``confirmed`` True, held for
``hang_long_ms`` (gaps between words); ``onset_frames`` of Speex evidence make ``near`` True
unconfirmed, held ``hang_short_ms`` unless confirmed by WebRTC evidence or by ``confirm_frames``
of Speex evidence in a row.

Onset dating: WebRTC evidence comes 50–400 ms into the near talker's speech, and while Speex is
untrusted nothing earlier opens ``near``. When a near episode opens, ``episode_onset`` is dated
back (at most ``onset_lead_ms``) to the earlier of two marks:

- Speex's output jumping to the mic level (``raw`` Speex evidence: the ratio and level rules
  without the tracked-quantile margin and trust): the start of the run of raw evidence frames
  leading into the opening frame. Frame-exact when it shows, but a faint onset under loud echo
  fails the level rule and a dip between syllables splits the run, dating the second syllable.
- WebRTC's output leaving its echo-only floor: AEC3 suppresses the near talker's first syllables
  far below the mic level, but not down to the floor it holds echo at (60–80 dB under the mic),
  so its output level rises out of that floor at the onset itself. The floor of a frame is the
  median level of the ``onset_floor_ms`` of audible frames before it; the mark is the earliest
  frame ``onset_hold_db`` over its floor whose level (mean of it and the next) is
  ``onset_rise_db`` over it, and after which the level never stays under floor +
  ``onset_hold_db`` for ``onset_quiet_ms`` up to the opening frame: a stretch that long back at
  the floor is echo only, and the onset is never dated back past it. A rise out of
  digital silence (an inaudible floor) is not a mark: that is the echo coming back. Nor is a
  rise that stays under ``onset_min_dbfs``: with a digitally quiet mic path (a sound-server
  loopback) AEC3 holds echo near −110 dBFS, and a faint sound before the words (a synthetic
  voice's −65 dBFS lead-in hiss, suppressed to about −104) rose out of that floor 100–300 ms
  before the speech, dating the onset that early. A real microphone's own noise, after AEC3
  and NS, should sit near or above this level, so there the rule would rarely bind (not
  measured: the rig has no real microphone). Its cost: a first fricative AEC3 keeps under
  the level is dated at the vowel (1 trial in 30 on the rig).

The dating looks back over a ring of per-frame AEC3 output levels, only when an episode opens. It
dates an episode the rules above already opened; it never opens one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DoubleTalkSettings:
    """Thresholds of the detector (defaults tuned on the bench scenes, see docs/benchmarks.md).

    Attributes:
        far_active_dbfs: far-end frame level above which echo is expected.
        echo_hold_ms: echo stays possible this long after the far end went quiet (echo path
            delay plus room tail plus sound-server buffering).
        speex_ratio_db: lowest Speex-output-over-mic level that counts as onset evidence.
        speex_quantile: quantile of the echo-only Speex-over-mic ratio tracked.
        speex_margin_db: onset evidence must exceed that quantile by this much.
        speex_trust_db: Speex evidence is ignored while that quantile is above this (Speex is
            not cancelling well enough for its output level to tell near speech from echo).
        speex_corroborate_db: Speex evidence also needs WebRTC's output above this relative to
            the mic (AEC3 holding its output far below it says the loud Speex output is echo).
        speex_level_db: Speex evidence must also be within this of the average echo level at the
            mic (quiet moments of the far end leave Speex's output level meaningless).
        track_step_db: step of the quantile tracker per echo-only frame.
        track_lag_ms: echo-only frames are counted only when no WebRTC evidence followed
            within this time (keeps the near talker's first syllables out of the statistics).
        webrtc_ratio_db: WebRTC output over mic level above which a frame confirms near speech.
        webrtc_max_db: ...but not above this: an output louder than the mic is the canceller
            subtracting a misaligned echo estimate (the echo path delay changed), not the user.
        floor_dbfs: outputs below this level are never evidence (noise, silence).
        onset_frames: consecutive Speex evidence frames that start near speech.
        confirm_frames: consecutive Speex evidence frames that confirm it without WebRTC.
        hang_short_ms: hold after the last evidence while unconfirmed.
        hang_long_ms: hold after the last evidence once confirmed.
        warmup_ms: echo-possible time at start-up during which no evidence counts (the
            cancellers are still converging and leak echo).
        onset_lead_ms: furthest an episode's onset is dated back before the frame that opened it.
        onset_gap_ms: longest gap without raw Speex evidence inside one run of it.
        evidence_lead_ms: furthest ``episode_evidence`` is dated back before the opening frame.
        onset_floor_ms: audible history before a candidate onset whose median WebRTC output
            level is the echo-only floor it must rise out of.
        onset_rise_db: rise of WebRTC's output over that floor that marks an onset.
        onset_hold_db: WebRTC's output below floor + this counts as back at the floor...
        onset_quiet_ms: ...and this long back at the floor before the opening frame rules the
            candidate out (the near talker's gaps between syllables are shorter).
        onset_min_dbfs: lowest WebRTC output level (mean of the mark's frame and the next)
            that can mark an onset: quieter is not speech, whatever its floor.
    """

    far_active_dbfs: float = -60.0
    echo_hold_ms: int = 500
    speex_ratio_db: float = -10.0
    speex_quantile: float = 0.95
    speex_margin_db: float = 6.0
    speex_trust_db: float = -15.0
    speex_level_db: float = -17.0
    speex_corroborate_db: float = -50.0
    track_step_db: float = 0.8
    track_lag_ms: int = 300
    webrtc_ratio_db: float = -15.0
    webrtc_max_db: float = 1.0
    floor_dbfs: float = -60.0
    onset_frames: int = 2
    confirm_frames: int = 5
    hang_short_ms: int = 50
    hang_long_ms: int = 300
    warmup_ms: int = 1000
    onset_lead_ms: int = 400
    onset_gap_ms: int = 20
    evidence_lead_ms: int = 250
    onset_floor_ms: int = 80
    onset_rise_db: float = 6.0
    onset_hold_db: float = 3.0
    onset_quiet_ms: int = 100
    onset_min_dbfs: float = -90.0


ECHO_LEVEL_SMOOTHING = 0.01  # per frame: about a 1 s average


def _lin(db: float) -> float:
    return float(10.0 ** (db / 10.0))


class DoubleTalkDetector:
    """Frame-by-frame near-talker decision while echo may be present.

    Args:
        frame_ms: duration of one frame.
        settings: thresholds; the tuned defaults when omitted.

    Attributes:
        near: the last decision (True: the near talker is present or no echo is possible).
        confirmed: ``near`` is backed by WebRTC evidence or sustained Speex evidence (it is then
            held through gaps between words).
        evidence: this very frame showed the near talker (or no echo is possible); the hold
            frames after evidence pass the user upstream but are not evidence.
        residual_db: running quantile of Speex's output over the mic on echo-only frames, dB.
        echo_possible: the far end played within the echo hold time.
        frames: frames decided so far (the next frame's index).
        episode_onset: index of the frame where the current (or last) near episode began, dated
            back to the earlier of the two marks (module docstring); None before the first
            episode and while no echo is possible. The truest onset: the latency meter's.
        episode_evidence: the same episode dated by the Speex mark alone (the opening frame
            without one). Later or equal; what the barge-in decision may credit: the WebRTC
            mark also dates echo leaks that open a (false) episode, and crediting those turned
            echo false starts into cuts on the rig (4 of 16 answers vs 1 of 16).
    """

    def __init__(self, frame_ms: int = 10, settings: DoubleTalkSettings | None = None) -> None:
        s = settings if settings is not None else DoubleTalkSettings()
        self.settings = s
        self._frame_ms = frame_ms
        self._far_on = _lin(s.far_active_dbfs)
        self._floor = _lin(s.floor_dbfs)
        self._level_ratio = _lin(s.speex_level_db)
        self._corroborate = _lin(s.speex_corroborate_db)
        self._echo_pow = 0.0  # smoothed mic power on echo-only frames
        self._webrtc_ratio = _lin(s.webrtc_ratio_db)
        self._webrtc_max = _lin(s.webrtc_max_db)
        self._echo_hold = max(1, s.echo_hold_ms // frame_ms)
        self._hang_short = max(1, s.hang_short_ms // frame_ms)
        self._hang_long = max(1, s.hang_long_ms // frame_ms)
        self._echo_left = 0
        self._run = 0
        self._hang = 0
        self._active = False
        self.residual_db = 0.0  # tracked Speex/mic quantile: untrusted until measured
        self._lag = [math.nan] * max(1, s.track_lag_ms // frame_ms)  # held ratios (ring)
        self._lag_pos = 0
        self._held = 0
        self._warmup = max(0, s.warmup_ms // frame_ms)
        self.near = True
        self.confirmed = True
        self.evidence = True
        self.echo_possible = False
        self._lead = max(0, s.onset_lead_ms // frame_ms)
        self._gap = max(0, s.onset_gap_ms // frame_ms)
        self._raw_since: int | None = None  # first frame of the current raw Speex evidence run
        self._raw_last = 0  # last frame with raw Speex evidence
        self.frames = 0
        self.episode_onset: int | None = None
        self.episode_evidence: int | None = None
        self._evidence_lead = max(0, s.evidence_lead_ms // frame_ms)
        self._pre = max(1, s.onset_floor_ms // frame_ms)
        self._quiet = max(1, s.onset_quiet_ms // frame_ms)
        size = self._lead + self._pre + 1
        self._aec_db = [0.0] * size  # ring of WebRTC output levels, dB, indexed by frame
        self._aec_audible = [False] * size  # the mic was above the floor on that frame
        self._aec_held = 0  # frames in the ring since echo became possible

    def update(self, mic: float, far: float, speex: float, webrtc: float) -> bool:
        """Decide one frame from mean-square levels; returns (and stores) :attr:`near`."""
        s = self.settings
        index = self.frames
        self.frames += 1
        if far > self._far_on:
            self._echo_left = self._echo_hold
        elif self._echo_left > 0:
            self._echo_left -= 1
        self.echo_possible = self._echo_left > 0
        if not self.echo_possible:
            self._active = False
            self._raw_since = self.episode_onset = self.episode_evidence = None
            self._run = self._hang = self._aec_held = 0
            self.near = self.confirmed = self.evidence = True
            return True
        audible = mic > self._floor  # echo (or the user) reached the mic
        ratio_db = 10.0 * math.log10(max(speex, 1e-12) / mic) if audible else -120.0
        trusted = self.residual_db <= s.speex_trust_db
        if audible and not self._active:
            self._echo_pow += ECHO_LEVEL_SMOOTHING * (mic - self._echo_pow)
        raw = (
            speex > self._floor
            and speex > self._level_ratio * self._echo_pow
            and ratio_db > s.speex_ratio_db
        )
        onset = (
            trusted
            and raw
            and ratio_db > self.residual_db + s.speex_margin_db
            and webrtc > self._corroborate * mic
        )
        confirm = (
            webrtc > self._floor and self._webrtc_ratio * mic < webrtc <= self._webrtc_max * mic
        )
        if self._warmup > 0:  # AEC3 leaks echo until it has heard the far end for a while
            self._warmup -= 1
            onset = confirm = raw = False
        if raw:
            if self._raw_since is None or index - self._raw_last > self._gap + 1:
                self._raw_since = index
            self._raw_last = index
        elif self._raw_since is not None and index - self._raw_last > self._gap:
            self._raw_since = None
        slot = index % len(self._aec_db)
        self._aec_db[slot] = 10.0 * math.log10(max(webrtc, 1e-12))
        self._aec_audible[slot] = audible
        self._aec_held += 1
        was_active = self._active
        self._run = self._run + 1 if onset else 0
        self._track(ratio_db if audible and not self._active and not confirm else None, confirm)
        if confirm:
            self._active, self.confirmed, self._hang = True, True, self._hang_long
        elif self._active:
            if self._run >= s.confirm_frames:
                self.confirmed = True
            if onset:
                self._hang = self._hang_long if self.confirmed else self._hang_short
            else:
                self._hang -= 1
                if self._hang <= 0:
                    self._active = self.confirmed = False
        elif self._run >= s.onset_frames:
            self._active, self.confirmed, self._hang = True, False, self._hang_short
        self.near = self._active
        self.evidence = self.near and (confirm or onset)
        if self._active and not was_active:
            since = index if self._raw_since is None else self._raw_since
            self.episode_evidence = max(since, index - self._evidence_lead)
            rise = self._aec3_onset(index)
            if rise is not None:
                since = min(since, rise)
            self.episode_onset = max(since, index - self._lead)
        return self.near

    def _aec3_onset(self, index: int) -> int | None:
        """Earliest frame up to ``index`` where WebRTC's output rose out of its echo-only floor.

        Runs once per opened episode over the ring: at most ``onset_lead_ms`` candidates, each
        checked against the ``onset_floor_ms`` before it and the frames after it.
        """
        s = self.settings
        db, audible, size = self._aec_db, self._aec_audible, len(self._aec_db)
        oldest = index - min(self._aec_held, size) + 1
        found: int | None = None
        for t in range(index, max(oldest + self._pre, index - self._lead) - 1, -1):
            pre = [t - k for k in range(1, self._pre + 1)]
            if not all(audible[j % size] for j in pre):
                continue
            levels = sorted(db[j % size] for j in pre)
            mid = len(levels) // 2
            floor = levels[mid] if len(levels) % 2 else 0.5 * (levels[mid - 1] + levels[mid])
            hold, here = floor + s.onset_hold_db, db[t % size]
            level = 0.5 * (here + db[min(t + 1, index) % size])
            if here < hold or level < max(floor + s.onset_rise_db, s.onset_min_dbfs):
                continue
            quiet = 0
            for j in range(t, index + 1):
                quiet = quiet + 1 if db[j % size] < hold else 0
                if quiet >= self._quiet:
                    break
            else:
                found = t
        return found

    @property
    def speex_untrusted(self) -> bool:
        """Echo is possible and Speex is not cancelling well enough to tell the user by level."""
        return self.echo_possible and self.residual_db > self.settings.speex_trust_db

    def _track(self, ratio_db: float | None, confirm: bool) -> None:
        """Update the echo-only quantile with frames no WebRTC evidence followed within the lag.

        Near speech often shows no WebRTC evidence for its first 50–300 ms (AEC3 suppresses
        onsets); holding each frame back for ``track_lag_ms`` and dropping the held frames on
        WebRTC evidence keeps those onsets out of the echo statistics.
        """
        if confirm:
            self._held = 0
        if self._held == len(self._lag):
            oldest = self._lag[self._lag_pos]
            self._held -= 1
            if not math.isnan(oldest):
                up = 1.0 if oldest > self.residual_db else 0.0
                step = self.settings.track_step_db
                self.residual_db += step * (up - 1.0 + self.settings.speex_quantile)
        self._lag[self._lag_pos] = math.nan if ratio_db is None else ratio_db
        self._lag_pos = (self._lag_pos + 1) % len(self._lag)
        self._held += 1

    def reset(self) -> None:
        """Forget all state (as after construction)."""
        self._echo_left = self._run = self._hang = self._held = 0
        self._echo_pow = 0.0
        self._active = False
        self._raw_since = self.episode_onset = self.episode_evidence = None
        self.frames = self._aec_held = 0
        self.residual_db = 0.0
        self._warmup = max(0, self.settings.warmup_ms // self._frame_ms)
        self.near, self.confirmed, self.evidence, self.echo_possible = True, True, True, False
