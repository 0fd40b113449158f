"""Render the audio bench's results into its section of docs/benchmarks.md (and nothing else)."""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path

from app.audio.dspconfig import DEFAULT_BACKEND

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- audio:begin -->", "<!-- audio:end -->"

# (key prefix, label, target for the default backend, format)
PER_BACKEND = (
    ("erle_db_synthetic", "ERLE, synthetic (150 ms room, 40 ms delay), dB", "", "{:.1f}"),
    ("erle_db_loop", "ERLE, PulseAudio loopback (gain 1), dB", "≥ 35", "{:.1f}"),
    ("vad_echo_false_pct", "echo-only VAD windows flagged as speech, %", "≤ 1", "{:.2f}"),
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
)
SINGLE = (
    ("flush_to_silence_ms.p50", "flush() → speaker monitor silent, P50, ms", "", "{:.1f}"),
    ("flush_to_silence_ms.p95", "flush() → speaker monitor silent, P95, ms", "≤ 20", "{:.1f}"),
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
)

WHY = """\
**Default: `{default}`, chosen from these figures.** WebRTC AEC3 removes far more echo (see the loop
ERLE) and its output never let the assistant's own voice start speech, but during double talk it
suppresses the user: the double-talk WER of its output is near 1 and it misses onsets (the first
word is swallowed). SpeexDSP (echo canceller + preprocessor with residual-echo suppression
linked to it) keeps the user's words (double-talk WER close to the clean reference) and detects
every onset, but through the real loop it leaves enough echo that the VAD starts "speech" many
times a minute, i.e. the assistant would interrupt itself. The hybrid runs both on every frame
(CPU adds up, still within the 0.3 ms budget): while the assistant speaks the VAD listens to
WebRTC's output (no self-triggering), otherwise to Speex's; the provider always receives Speex's
output (the user's words intact). What the hybrid does not fix: barge-in recall during double talk
is WebRTC's, below the 95 % target, and the upstream audio carries Speex's residual echo while
the assistant talks (until the session flushes playback on barge-in). Loop ERLE of the default
is therefore Speex's figure; the echo the provider hears is bounded by it."""


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
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} … {END} section")
    body = render(results, command, failed, machine)
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    path.write_text(
        pattern.sub(lambda _m: f"{BEGIN}\n{body}\n{END}", text, count=1), encoding="utf-8"
    )
