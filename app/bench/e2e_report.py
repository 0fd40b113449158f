"""Render the e2e bench's results into its section of docs/benchmarks.md (and nothing else).

The table puts each measured row beside its target and the best peer measured on this machine
(issue 7); rows that miss their target get a per-stage breakdown of where the time goes.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

from app.bench.audio import machine
from app.bench.docs import DOCS, replace_section

# (key, label, target text, target predicate on the value or None, best peer)
ROWS: tuple[tuple[str, str, str, float | None, str], ...] = (
    ("v2v_ms.p50", "voice-to-voice P50, ms (end of speech → first sample)",
     "≤ 1000 (500 + 500 EoS silence)", 1000.0, ""),
    ("v2v_ms.p95", "voice-to-voice P95, ms", "", None, ""),
    ("v2v_ms.p99", "voice-to-voice P99, ms", "", None, ""),
    ("bargein_duck_ms.p50", "VAD barge-in: onset → −10 dB P50, ms", "", None, ""),
    ("bargein_duck_ms.p95", "VAD barge-in: onset → −10 dB P95, ms", "≤ 150", 150.0, ""),
    ("bargein_stop_ms.p50", "VAD barge-in: onset → silence P50, ms", "", None, ""),
    ("bargein_stop_ms.p95", "VAD barge-in: onset → silence P95, ms", "≤ 400 (300 min + 100)",
     400.0, ""),
    ("bargein_stop_ms.p99", "VAD barge-in: onset → silence P99, ms", "", None, ""),
    ("self_interrupts", "self-interrupts (echo on, nobody speaking)", "0", 0.0, ""),
    ("bargein_button_stop_ms.p50", "interrupt command → silence P50, ms", "", None, ""),
    ("bargein_button_stop_ms.p95", "interrupt command → silence P95, ms", "≤ 20", 20.0,
     "bare PulseAudio flush 10"),
    ("bargein_button_stop_ms.p99", "interrupt command → silence P99, ms", "", None, ""),
    ("server_bargein_stop_ms.p50", "server speech_started → silence P50, ms", "", None,
     "Pipecat 30"),
    ("server_bargein_stop_ms.p95", "server speech_started → silence P95, ms", "≤ 20", 20.0,
     "Pipecat 45, LiveKit 313"),
    ("server_bargein_stop_ms.p99", "server speech_started → silence P99, ms", "", None, ""),
    ("first_audio_to_speaker_ms.p50", "first audio delta sent → speaker P50, ms", "", None, ""),
    ("first_audio_to_speaker_ms.p95", "first audio delta sent → speaker P95, ms", "≤ 5", 5.0,
     "Pipecat 5, LiveKit 493"),
    ("underruns", "audible gaps in steady playback (all answers)", "0", 0.0, ""),
    ("jitter_underruns", "audible gaps with ±30 ms send jitter (all answers)", "0", 0.0,
     "LiveKit 0 (Pipecat 23 in 20)"),
    ("jitter_first_audio_to_speaker_ms.p95", "first audio → speaker P95 under jitter, ms", "",
     None, "LiveKit 455"),
    ("truncate_error_ms.p95", "truncate audio_end_ms − heard P95, ms", "≤ 20", 20.0, ""),
    ("meter_error_ms.p95", "app latency meter − outside P95, ms (all segments)", "≤ 10", 10.0,
     ""),
)  # fmt: skip

BREAKDOWNS: dict[str, tuple[tuple[str, str], ...]] = {
    "bargein_button_stop_ms.p95": (
        ("bargein_button_react_ms.p95", "command → response.cancel/truncate on the wire"),
        ("device_output_latency_ms.p50", "PortAudio output latency (flush → speaker floor)"),
    ),
    "server_bargein_stop_ms.p95": (
        ("server_bargein_react_ms.p95", "speech_started sent → client truncate on the wire"),
        ("device_output_latency_ms.p50", "PortAudio output latency (flush → speaker floor)"),
    ),
    "first_audio_to_speaker_ms.p95": (
        ("device_output_latency_ms.p50", "PortAudio output latency (queue → speaker floor)"),
    ),
    "bargein_stop_ms.p95": (
        ("bargein_duck_ms.p50", "onset → duck (local VAD start decision + ramp)"),
    ),
    "v2v_ms.p50": (
        ("v2v_meter_speech_end_to_first_audio_ms.p50", "app meter: end of speech → first audio"),
        ("first_audio_to_speaker_ms.p50", "first audio → speaker (scripted phase)"),
    ),
}


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "not measured"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def _missed(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def render(
    results: dict[str, float], command: str, failed: list[str], untimed: list[str], where: str
) -> str:
    """The markdown between the e2e markers."""
    today = datetime.date.today().isoformat()
    lines = [
        "## End to end — `voxdesk bench e2e`",
        "",
        f"Command: `{command}` · machine: {where} · run {today}.",
        "",
        "Measured outside the app: two `parec` ears on `speaker.monitor` and `micfeed.monitor`",
        "dated on the monotonic clock; signal positions from cross-correlation with the known",
        "signals (the scripted server's seeded probe answers, the user's WAV clips).",
        "",
        "| metric | measured | target | best peer (same rig) | |",
        "|---|---|---|---|---|",
    ]
    misses: list[str] = []
    for key, label, target, limit, peer in ROWS:
        value = results.get(key)
        mark = (
            "missed"
            if _missed(value, limit)
            else ("met" if value is not None and limit is not None else "")
        )
        if mark == "missed":
            misses.append(key)
        lines.append(f"| {label} | {_fmt(value)} | {target} | {peer} | {mark} |")
    extra = sorted(k for k in results if k.startswith(("meter_error_ms.", "meter_missing.")))
    extra += [k for k in ("underruns_app_counter", "jitter_underruns_app_counter",
                          "jitter_stretch_ms.p50", "truncate_signed_ms.p50", "untimed_trials",
                          "bench_seconds") if k in results]  # fmt: skip
    if extra:
        lines += ["", "| detail | value |", "|---|---|"]
        lines += [f"| `{k}` | {_fmt(results[k])} |" for k in extra]
    for key in misses:
        parts = [
            f"{label} {_fmt(results.get(k))} ms"
            for k, label in BREAKDOWNS.get(key, ())
            if k in results
        ]
        if parts:
            lines += ["", f"Where `{key}` goes: " + "; ".join(parts) + "."]
    if failed:
        lines += ["", "Phases not measured in this run: " + ", ".join(failed) + "."]
    if untimed:
        lines += ["", f"Trials that could not be timed: {len(untimed)} (see the bench output)."]
    return "\n".join(lines)


def update_docs(
    results: dict[str, float],
    command: str,
    failed: list[str],
    untimed: list[str],
    path: Path = DOCS,
) -> None:
    """Replace only the text between the e2e markers of ``path``."""
    body = render(results, command, failed, untimed, machine())
    replace_section("e2e", body, path)
