"""Detectors for the end-to-end bench: where known signals are, on the rig's recordings.

Everything here is pure numpy on float32 mono arrays, so it is unit-tested on synthetic signals.
Timestamps come from the signals themselves, never from guessed offsets:

- ``locate`` finds a known clip inside a recording by normalised cross-correlation (the user's
  WAV inside the mic-feed recording, the scripted server's probe signal on the speaker monitor);
- ``heard_onset`` finds where a known signal's *first* sample was heard, even when playback
  stalled right after it (a long probe locks onto the audio after the stall);
- ``active_bounds`` finds where a known clip's sound begins and ends (end of the user's
  utterance = the clip's lag + its last active sample);
- ``first_sound`` / ``silence_from`` find the first assistant sample and the point after which
  the speaker monitor stays quiet (the null sink is digital silence when nothing plays);
- ``duck_point`` finds where a steady signal's level has dropped by a given number of dB;
- ``heard_position`` maps the last sample heard back to a position inside the reference signal
  (how much of an item the user really heard, robust to gaps and ducking);
- ``count_gaps`` counts audible dropouts (underruns) inside a stretch of steady playback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.harness.signals import normalized_xcorr

FloatArray = npt.NDArray[np.float32]

SILENCE_DBFS = -50.0
"""A sample quieter than this counts as silence on the speaker monitor."""


class DetectionError(RuntimeError):
    """A known signal could not be found where it had to be (the trial cannot be timed)."""


def db_to_amp(dbfs: float) -> float:
    """Linear amplitude of a level in dBFS."""
    return float(10.0 ** (dbfs / 20.0))


@dataclass(frozen=True, slots=True)
class Located:
    """Where a reference signal sits inside a recording.

    Attributes:
        lag: index in the recording of the reference's sample 0 (may be negative).
        corr: normalised correlation at that lag (1.0 = identical up to gain).
    """

    lag: int
    corr: float


def locate(reference: FloatArray, recording: FloatArray, min_corr: float = 0.5) -> Located:
    """Find ``reference`` inside ``recording`` by normalised cross-correlation.

    Args:
        reference: the known signal.
        recording: where to look.
        min_corr: lowest correlation accepted as a match.

    Raises:
        DetectionError: the best match correlates less than ``min_corr``.
    """
    if len(reference) == 0 or len(recording) == 0:
        raise DetectionError("nothing to correlate")
    corr, lag = normalized_xcorr(reference, recording)
    if corr < min_corr:
        raise DetectionError(f"reference not found (best correlation {corr:.2f} < {min_corr})")
    return Located(lag, corr)


def heard_onset(
    reference: FloatArray,
    recording: FloatArray,
    rate: int,
    probe_ms: float = 200.0,
    head_ms: float = 10.0,
    min_corr: float = 0.6,
) -> int:
    """Index in ``recording`` where ``reference``'s sample 0 was heard.

    A ``probe_ms`` probe places the signal coarsely; but when playback stalled early (an underrun
    after the first chunk), the probe matches best *after* the gap, where most of it lies. A gap
    only delays what follows it, so the reference's first ``head_ms`` is then looked for at or
    before that coarse position, and the earliest place it was heard wins.

    Raises:
        DetectionError: the probe is not in ``recording``.
    """
    probe = max(1, round(probe_ms * rate / 1000.0))
    head = max(1, round(head_ms * rate / 1000.0))
    coarse = locate(reference[:probe], recording, min_corr).lag
    window = recording[: max(0, coarse) + head + head // 2]
    if len(window) < head:
        return coarse
    try:
        found = locate(reference[:head], window, min_corr=0.8)
    except DetectionError:
        return coarse
    return found.lag if found.lag < coarse else coarse


def window_rms(x: FloatArray, win: int) -> npt.NDArray[np.float64]:
    """RMS of consecutive non-overlapping windows of ``win`` samples (the tail is dropped)."""
    n = len(x) // win
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    blocks = np.asarray(x[: n * win], dtype=np.float64).reshape(n, win)
    out: npt.NDArray[np.float64] = np.sqrt(np.mean(blocks * blocks, axis=1))
    return out


def active_bounds(clip: FloatArray, rate: int, below_peak_db: float = 35.0) -> tuple[int, int]:
    """Return ``(start, end)`` of the sound in a known clip (``end`` is one past the last sample).

    A 5 ms window is active when its RMS is within ``below_peak_db`` of the loudest window; the
    bounds are then refined to the first/last sample above that threshold inside the edge windows.

    Raises:
        DetectionError: the clip is silent.
    """
    win = max(1, rate // 200)
    levels = window_rms(clip, win)
    if levels.size == 0 or float(levels.max()) <= 0.0:
        raise DetectionError("the clip is silent")
    thr = float(levels.max()) * db_to_amp(-below_peak_db)
    active = np.flatnonzero(levels >= thr)
    first, last = int(active[0]), int(active[-1])
    head = np.flatnonzero(np.abs(clip[first * win : (first + 1) * win]) >= thr)
    tail = np.flatnonzero(np.abs(clip[last * win : (last + 1) * win]) >= thr)
    start = first * win + (int(head[0]) if head.size else 0)
    end = last * win + (int(tail[-1]) + 1 if tail.size else win)
    return start, end


def first_sound(x: FloatArray, start: int = 0, floor_dbfs: float = SILENCE_DBFS) -> int | None:
    """Index of the first sample at or after ``start`` louder than ``floor_dbfs``."""
    hits = np.flatnonzero(np.abs(x[max(0, start) :]) >= db_to_amp(floor_dbfs))
    return int(hits[0]) + max(0, start) if hits.size else None


def silence_from(
    x: FloatArray,
    start: int,
    rate: int,
    hold_ms: float = 50.0,
    floor_dbfs: float = SILENCE_DBFS,
) -> int | None:
    """First index ``p >= start`` after which ``x`` stays below the floor for ``hold_ms``.

    ``p`` is one past the last loud sample before that quiet run (``start`` itself when the signal
    is already quiet there). Returns None when no such run follows inside ``x``.
    """
    hold = max(1, round(hold_ms * rate / 1000.0))
    seg = np.abs(x[max(0, start) :]) >= db_to_amp(floor_dbfs)
    loud = np.flatnonzero(seg)
    base = max(0, start)
    prev_end = 0  # one past the previous loud sample, relative to base
    for idx in loud:
        if idx - prev_end >= hold:
            return base + prev_end
        prev_end = int(idx) + 1
    if len(seg) - prev_end >= hold:
        return base + prev_end
    return None


def last_sound(x: FloatArray, start: int, end: int, floor_dbfs: float = SILENCE_DBFS) -> int | None:
    """One past the last sample in ``x[start:end]`` louder than ``floor_dbfs`` (None: silent)."""
    hits = np.flatnonzero(np.abs(x[max(0, start) : end]) >= db_to_amp(floor_dbfs))
    return int(hits[-1]) + 1 + max(0, start) if hits.size else None


def duck_point(
    x: FloatArray,
    start: int,
    rate: int,
    drop_db: float = 10.0,
    ref_ms: float = 200.0,
    win_ms: float = 5.0,
) -> int | None:
    """Where a steady signal first drops ``drop_db`` below its level just before ``start``.

    The reference level is the RMS of the ``ref_ms`` before ``start``; the result is the start
    of the first ``win_ms`` window at or after ``start`` whose RMS is that far down (silence
    counts). None when the level never drops inside ``x``.

    Raises:
        DetectionError: nothing was playing before ``start``.
    """
    win = max(1, round(win_ms * rate / 1000.0))
    ref = x[max(0, start - round(ref_ms * rate / 1000.0)) : max(0, start)]
    ref_level = float(np.sqrt(np.mean(np.square(ref, dtype=np.float64)))) if ref.size else 0.0
    if ref_level < db_to_amp(SILENCE_DBFS):
        raise DetectionError("nothing was playing before the duck trigger")
    levels = window_rms(x[max(0, start) :], win)
    hits = np.flatnonzero(levels <= ref_level * db_to_amp(-drop_db))
    return max(0, start) + int(hits[0]) * win if hits.size else None


def heard_position(
    reference: FloatArray,
    recording: FloatArray,
    end: int,
    probe: int,
    min_corr: float = 0.6,
) -> int:
    """Map ``recording[end - 1]`` (the last sample heard) to its index in ``reference``.

    The ``probe`` samples before ``end`` are located inside ``reference`` by cross-correlation,
    so gaps, ducking and a late onset do not bias the answer.

    Returns:
        One past the reference index of the last sample heard.

    Raises:
        DetectionError: the probe does not match the reference well enough.
    """
    if end < probe:
        raise DetectionError("too little audio before the end to locate it")
    seg = recording[end - probe : end]
    corr, lag = normalized_xcorr(seg, reference)
    if corr < min_corr:
        raise DetectionError(f"heard audio not found in the reference (corr {corr:.2f})")
    return lag + probe


def count_gaps(
    x: FloatArray,
    start: int,
    end: int,
    rate: int,
    min_gap_ms: float = 2.0,
    floor_dbfs: float = SILENCE_DBFS,
) -> int:
    """Count runs of silence at least ``min_gap_ms`` long strictly inside ``x[start:end]``.

    Meant for a steady, never-silent probe signal: any such run inside it is an audible dropout.
    Silence touching ``start`` or ``end`` is not counted (that is onset or end of playback).
    """
    seg = np.abs(x[max(0, start) : end]) >= db_to_amp(floor_dbfs)
    loud = np.flatnonzero(seg)
    if loud.size < 2:
        return 0
    gap = max(1, round(min_gap_ms * rate / 1000.0))
    return int(np.count_nonzero(np.diff(loud) - 1 >= gap))


def probe_signal(seconds: float, rate: int, seed: int, rms_dbfs: float = -18.0) -> FloatArray:
    """A steady, non-repeating probe: seeded noise band-limited to 300–3400 Hz, constant level.

    Its autocorrelation is sharp (every stretch locates uniquely by cross-correlation), its
    level is steady (ducks and gaps stand out), and it never sits below the silence floor for
    more than a few samples.
    """
    n = round(seconds * rate)
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    spec[(freqs < 300.0) | (freqs > 3400.0)] = 0.0
    x = np.fft.irfft(spec, n)
    x *= db_to_amp(rms_dbfs) / float(np.sqrt(np.mean(x * x)))
    fade = min(n // 2, round(0.002 * rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        x[:fade] *= ramp
        x[n - fade :] *= ramp[::-1]
    return np.clip(x, -0.99, 0.99).astype(np.float32)


def to_pcm16(x: FloatArray) -> bytes:
    """Float samples in [-1, 1] as little-endian PCM16 bytes."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def duck_point_ref(
    reference: FloatArray,
    recording: FloatArray,
    trigger: int,
    rate: int,
    drop_db: float = 10.0,
    probe_ms: float = 300.0,
    win_ms: float = 10.0,
) -> int | None:
    """Where playback of a known (speech-like) ``reference`` falls ``drop_db`` below full gain.

    The ``probe_ms`` heard before ``trigger`` are located inside the reference (so earlier gaps
    do not matter); from there on, each ``win_ms`` window's gain is ``rms(recording) /
    rms(reference)`` over the aligned samples. Windows where the reference itself is near
    silent (a pause in the speech) are skipped. Returns the start of the first window at or
    after ``trigger`` that is ``drop_db`` down, or None.

    Raises:
        DetectionError: the audio before the trigger is not the reference.
    """
    probe = round(probe_ms * rate / 1000.0)
    pos = heard_position(reference, recording, trigger, probe)  # reference index at trigger
    win = max(1, round(win_ms * rate / 1000.0))
    quiet = db_to_amp(-40.0)
    limit = db_to_amp(-drop_db)
    k = 0
    while pos + (k + 1) * win <= len(reference) and trigger + (k + 1) * win <= len(recording):
        ref = reference[pos + k * win : pos + (k + 1) * win]
        rec = recording[trigger + k * win : trigger + (k + 1) * win]
        ref_rms = float(np.sqrt(np.mean(np.square(ref, dtype=np.float64))))
        rec_rms = float(np.sqrt(np.mean(np.square(rec, dtype=np.float64))))
        if ref_rms >= quiet and rec_rms <= ref_rms * limit:
            return trigger + k * win
        k += 1
    return None
