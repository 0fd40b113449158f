"""Render the audio bench's results into its section of docs/benchmarks.md (and nothing else)."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

from app.audio.dspconfig import DEFAULT_BACKEND
from app.bench.docs import DOCS, replace_section

# (key prefix, label, target for the default backend, format)
PER_BACKEND = (
    ("erle_db_synthetic", "ERLE, synthetic (150 ms room, 40 ms delay), dB", "", "{:.1f}"),
    ("erle_db_loop", "ERLE, PulseAudio loopback (gain 1), dB", "≥ 35", "{:.1f}"),
    (
        "vad_echo_false_pct",
        "echo-only VAD windows flagged as speech (score ≥ threshold, gate open), %",
        "≤ 1",
        "{:.2f}",
    ),
    (
        "vad_echo_false_starts_per_min_loop",
        "echo-triggered SpeechStarted per min, loop",
        "",
        "{:.1f}",
    ),
    (
        "bargein_recall_pct",
        "barge-in recall (start decided ≤ 300 ms after onset), %",
        "≥ 95",
        "{:.0f}",
    ),
    (
        "doubletalk_wer",
        "double-talk WER of the upstream audio (whisper tiny.en)",
        "≤ 0.10",
        "{:.3f}",
    ),
    ("dsp_ms_per_frame", "DSP CPU per 10 ms frame, ms", "≤ 0.3", "{:.3f}"),
    (
        "bargein_recall_pct_loop",
        "loop + added near talker: barge-in recall (≤ 300 ms), %",
        "",
        "{:.0f}",
    ),
    (
        "bargein_decided_pct_loop",
        "loop + added near talker: decided ≤ 300 ms after the onset (stamp not judged), %",
        "",
        "{:.0f}",
    ),
    (
        "stamps_early_loop",
        "loop + added near talker: onset stamps dated > 100 ms early",
        "",
        "{:.0f}",
    ),
    ("doubletalk_wer_loop", "loop + added near talker: double-talk WER", "", "{:.3f}"),
    (
        "vad_false_starts_doubletalk_loop",
        "loop + added near talker: SpeechStarted outside the utterances",
        "",
        "{:.0f}",
    ),
)
SINGLE = (
    ("flush_to_silence_ms.p50", "flush() → speaker monitor silent, P50, ms", "", "{:.1f}"),
    ("flush_to_silence_ms.p95", "flush() → speaker monitor silent, P95, ms", "≤ 20", "{:.1f}"),
    (
        "flush_to_silence_ms.duplex.p50",
        "the same with the always-running duplex stream, P50, ms",
        "",
        "{:.1f}",
    ),
    (
        "flush_to_silence_ms.duplex.p95",
        "the same with the always-running duplex stream, P95, ms",
        "",
        "{:.1f}",
    ),
    (
        "capture_to_chunk_ms.p95",
        "ADC → AudioChunk emitted (last sample), P95, ms",
        "≤ 25",
        "{:.1f}",
    ),
    ("doubletalk_wer.clean_near", "WER of the clean near speech alone (reference)", "", "{:.3f}"),
    ("doubletalk_wer.raw_mic", "WER of the raw mic during double talk (no DSP)", "", "{:.3f}"),
    ("loop_echo_level_dbfs", "echo level at the mic in the loop run, dBFS", "", "{:.1f}"),
    (
        "loop_xrun_callbacks",
        "callbacks with an xrun in the loop run (>0 spoils loop ERLE)",
        "0",
        "{:.0f}",
    ),
    ("loop_takes", "loop recordings made to get the cleanest take", "", "{:.0f}"),
)

WHY = """\
**Default: `{default}`, chosen from these figures.** Neither canceller alone meets the targets.
WebRTC AEC3 removes the echo (loop ERLE about 60 dB; the assistant's voice never starts speech)
but during double talk it attenuates the user by 6–11 dB and swallows onsets: double-talk WER near
1, recall below target. SpeexDSP (echo canceller + preprocessor with residual-echo suppression)
keeps the user (WER close to the clean reference) but through the drifting loopback leaves the echo
only 15–20 dB down, which starts "speech" a few times a minute. The hybrid runs both on every
frame and a double-talk detector (`app/audio/dsp/doubletalk.py`) picks, per 10 ms frame, which
output goes upstream and to the VAD, with a one-frame crossfade: WebRTC's while the far end may be
echoing and no near talker is present, Speex's otherwise. Near-talker evidence is (a) WebRTC's
output rising within 15 dB of the mic level (never on echo alone in these runs, but 50–300 ms
late at an onset) or (b), only while Speex has shown that it cancels (a tracked 95th percentile
of its echo-only output/mic ratio below −15 dB), Speex's output within 10 dB of the mic and within
17 dB of the average echo level for two frames (20 ms). Through the loopback Speex never earns
that trust, so (a) alone decides there and the loop ERLE is WebRTC's; on the synthetic room it
does, which gives the fast onsets. The VAD may start speech only on frames with evidence (its
gate), and while the assistant speaks it needs 64 ms of speech instead of 120 ms (barge-in mode).
No evidence counts during the first second of far-end audio (the cancellers still leak echo).
While Speex is not trusted, the VAD hears WebRTC's output even when Speex's goes upstream:
through the loopback Speex's output is then mostly echo, and a brief AEC3 leak that opened the
gate let the VAD start "speech" on it (the e2e bench's self-interrupts).

Flush and capture figures: the speaker runs as an on-demand output stream (the default), which
`flush()` aborts; the sound server then drops all it had not yet rendered. The rig's speaker is a
null sink whose monitor receives audio as the sink renders it, about one block ahead of its
clock, so the stop reads at or just below zero: on a real device the sink's own render-ahead
(a few ms) would still play, and no client can take it back without rewinds. With the
always-running duplex stream the flush has to wait out the PortAudio/PulseAudio output buffer
(rows "duplex"). ADC → chunk is the capture buffer (input latency about 7–10 ms), the 10 ms
block, and 16 ms of algorithmic delay (AEC3 + NS 14 ms, the two resamplers 1 ms each). A 5 ms
block (with 5 ms of device latency) measured ~26 ms here, but the same quick e2e run then took
73 s of CPU instead of 35 s on this 2-core machine, so the 10 ms block stays and the target is
missed by about 6 ms.

What remains weak: an utterance whose first phoneme is faint under loud echo ("stop, …": the /s/
is 15–20 dB below the echo) is decided only at its vowel, 250–290 ms after the onset here and
about 380 ms through the loopback, hence the loop recall (Speex alone catches that onset there,
at the price of false starts in the same run). Through the loopback, double-talk WER
stays high for every backend (rows "loop + added near talker"): Speex cannot track the drifting
path, so the upstream audio carries echo while the user talks over the assistant, and the first
word waits for AEC3's late evidence; the hybrid is still the best of the three there. A take with
xruns (the echo path jumps) defeats both cancellers, hence the re-recording. CPU is the sum of both
chains plus the detector.

The loop recall and strays judge a speech start by its stamp (`SpeechStarted.at`: a hit needs
it no earlier than 100 ms before the onset; a stamp outside the utterances is a stray). That
stamp is a retroactive dating for the latency meter — the earlier of Speex's jump and AEC3's
rise out of its echo floor — not the decision, so the rows "decided ≤ 300 ms" (the decision
alone) and "stamps dated > 100 ms early" (an AEC3 echo leak just before the onset, a meter
error) tell the two apart."""


def _fmt(results: dict[str, float], key: str, fmt: str) -> str:
    value = results.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    return fmt.format(value)


def render(results: dict[str, float], command: str, failed: list[str], machine: str) -> str:
    """The markdown between the audio markers."""
    today = datetime.date.today().isoformat()
    lines = [
        "## Audio engine — `voxdesk bench audio`",
        "",
        f"Command: `{command}` · machine: {machine} · run {today}.",
        "",
        f"| metric | speex | webrtc | hybrid | target (default = {DEFAULT_BACKEND}) |",
        "|---|---|---|---|---|",
    ]
    for key, label, target, fmt in PER_BACKEND:
        cells = [_fmt(results, f"{key}.{b}", fmt) for b in ("speex", "webrtc", "hybrid")]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    lines += ["", "| metric | value | target |", "|---|---|---|"]
    for key, label, target, fmt in SINGLE:
        lines.append(f"| {label} | {_fmt(results, key, fmt)} | {target} |")
    lines += ["", WHY.format(default=DEFAULT_BACKEND)]
    if failed:
        lines += ["", "Parts not measured in this run: " + ", ".join(failed) + "."]
    return "\n".join(lines)


def update_docs(
    results: dict[str, float], command: str, failed: list[str], machine: str, path: Path = DOCS
) -> None:
    """Replace only the text between the audio markers of ``path``."""
    replace_section("audio", render(results, command, failed, machine), path)
