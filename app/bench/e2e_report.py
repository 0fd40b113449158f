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

# (key, label, target text, target limit or None, best peer); "{eos}"/"{mi}" are filled in
# from the run's configured end-of-speech silence and minimum interruption.
ROWS: tuple[tuple[str, str, str, float | None, str], ...] = (
    ("v2v_ms.p50", "voice-to-voice P50, ms (end of speech → first sample)",
     "≤ {eos} + 500", None, ""),
    ("v2v_ms.p95", "voice-to-voice P95, ms", "", None, ""),
    ("v2v_ms.p99", "voice-to-voice P99, ms", "", None, ""),
    ("bargein_duck_ms.p50", "VAD barge-in: onset → −10 dB P50, ms", "", None, ""),
    ("bargein_duck_ms.p95", "VAD barge-in: onset → −10 dB P95, ms", "≤ 150", 150.0, ""),
    ("bargein_stop_ms.p50", "VAD barge-in: onset → silence P50, ms", "", None, ""),
    ("bargein_stop_ms.p95", "VAD barge-in: onset → silence P95, ms", "≤ {mi} + 100", None, ""),
    ("bargein_stop_ms.p99", "VAD barge-in: onset → silence P99, ms", "", None, ""),
    ("vad_not_stopped", "VAD barge-ins not stopped within 5 s (not in the percentiles)", "0",
     0.0, ""),
    ("vad_preempted", "VAD barge-in trials the app had already cut on its echo", "0", 0.0, ""),
    ("self_interrupts", "self-interrupts: app barged in on echo, nobody speaking", "0", 0.0, ""),
    ("self_interrupt_other_cuts", "answers cut with no barge-in trigger (other causes)", "0",
     0.0, ""),
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
    ("meter_error_ms.first_audio_to_speaker.p95", "meter error: first audio → speaker P95, ms",
     "≤ 10", 10.0, ""),
    ("meter_error_ms.voice_to_voice.p95", "meter error: voice-to-voice P95, ms", "≤ 10", 10.0,
     ""),
    ("meter_error_ms.bargein_to_silence.p95", "meter error: barge-in → silence P95, ms",
     "≤ 10", 10.0, ""),
    ("meter_error_ms.p95", "meter error, all segments P95, ms", "≤ 10", 10.0, ""),
)  # fmt: skip

_FA = (
    ("fa_stage_receive_ms.p95", "server send → client first_audio mark"),
    ("fa_stage_app_ms.p95", "first_audio mark → app onset mark (the app's own estimate)"),
    (
        "fa_stage_wait_ms.p95",
        "of which first_audio mark → output start asked (a device buffer's "
        "worth of audio queued, the output thread woken)",
    ),
    ("fa_stage_start_ms.p95", "of which the output start call (it primes the device buffer)"),
    ("fa_stage_dac_error_ms.p95", "outside onset − app onset mark"),
    ("device_output_latency_ms.p50", "PortAudio output latency the app reports"),
)
_METER_FA = (
    ("fa_stage_dac_error_ms.p50", "outside onset − app onset mark P50"),
    ("fa_stage_dac_error_ms.p95", "outside onset − app onset mark P95"),
    ("jitter_fa_stage_dac_error_ms.p95", "the same under ±30 ms send jitter P95"),
    ("fa_stage_receive_ms.p95", "server send → client first_audio mark P95"),
)
_METER_V2V = (
    ("v2v_stage_speech_end_mark_ms.p50", "app speech_end mark − outside end of speech P50"),
    ("v2v_stage_speech_end_mark_ms.p95", "app speech_end mark − outside end of speech P95"),
    ("fa_stage_dac_error_ms.p50", "outside onset − app onset mark P50"),
)
_METER_STOP = (
    ("vad_stage_trigger_ms.p5", "app speech-onset dating − clip onset (VAD) P5"),
    ("vad_stage_trigger_ms.p50", "app speech-onset dating − clip onset (VAD) P50"),
    ("vad_stage_trigger_ms.p95", "app speech-onset dating − clip onset (VAD) P95"),
    ("button_stage_silence_error_ms.p95", "outside silence − app silence mark (button) P95"),
    ("server_stage_silence_error_ms.p95", "outside silence − app silence mark (server) P95"),
    ("vad_stage_silence_error_ms.p5", "outside silence − app silence mark (VAD) P5"),
    ("vad_stage_silence_error_ms.p95", "outside silence − app silence mark (VAD) P95"),
)

BREAKDOWNS: dict[str, tuple[tuple[str, str], ...]] = {
    "v2v_ms.p50": (
        ("v2v_stage_eos_ms.p50", "end of speech → THINKING (end-of-speech detection)"),
        ("v2v_eos_silence_ms", "of which configured end-of-speech silence"),
        ("v2v_stage_engine_ms.p50", "THINKING → first audio delta (engine: ASR, reply, TTS)"),
        ("v2v_stage_playout_ms.p50", "first audio delta → speaker"),
        ("v2v_meter_speech_end_to_first_audio_ms.p50", "app meter: speech_end → first audio"),
    ),
    "bargein_duck_ms.p95": (
        (
            "vad_stage_trigger_ms.p95",
            "app's dating of the speech onset − clip onset (the duck "
            "waits for the VAD's decision, later: the user is heard through AEC3 only)",
        ),
        ("device_output_latency_ms.p50", "output stream latency (gain change → speaker)"),
    ),
    "bargein_stop_ms.p95": (
        ("vad_stage_cut_ms.p95", "onset → cut on the wire (VAD start + minimum interruption)"),
        ("min_interruption_ms", "of which configured minimum interruption"),
        ("vad_stage_flush_ms.p95", "cut on the wire → silence on the speaker"),
        ("bargein_duck_ms.p95", "onset → duck"),
    ),
    "vad_not_stopped": (("bargein_vad_trials", "VAD barge-in trials"),),
    "vad_preempted": (
        ("bargein_vad_trials", "VAD barge-in trials"),
        ("self_interrupts", "quiet answers the echo cut"),
    ),
    "self_interrupts": (
        ("self_interrupt_answers", "quiet answers played with the echo path on"),
        ("quiet_stuck", "answers after which the session did not return to listening"),
    ),
    "self_interrupt_other_cuts": (("self_interrupt_answers", "quiet answers"),),
    "bargein_button_stop_ms.p95": (
        ("bargein_button_react_ms.p95", "command → response.cancel/truncate on the wire"),
        ("button_stage_trigger_ms.p95", "command → app bargein mark"),
        ("button_stage_silence_error_ms.p95", "outside silence − app silence mark"),
        ("device_output_latency_ms.p50", "PortAudio output latency (flush → speaker floor)"),
    ),
    "server_bargein_stop_ms.p95": (
        ("server_bargein_react_ms.p95", "speech_started sent → client truncate on the wire"),
        ("server_stage_trigger_ms.p95", "speech_started sent → app bargein mark"),
        ("server_stage_silence_error_ms.p95", "outside silence − app silence mark"),
        ("device_output_latency_ms.p50", "PortAudio output latency (flush → speaker floor)"),
    ),
    "first_audio_to_speaker_ms.p95": _FA,
    "underruns": (("underruns_app_counter", "underruns the engine counted"),),
    "jitter_underruns": (
        ("jitter_underruns_app_counter", "underruns the engine counted"),
        (
            "jitter_underruns_first_answer",
            "gaps in the phase's first answer (pacing not yet "
            "learned: the playout hold is measured from the answers before it)",
        ),
        ("jitter_stretch_ms.p50", "answer stretch on the speaker P50"),
        ("jitter_first_audio_to_speaker_ms.p50", "first audio → speaker under jitter P50"),
    ),
    "truncate_error_ms.p95": (("truncate_signed_ms.p50", "sent − heard, signed P50"),),
    "meter_error_ms.first_audio_to_speaker.p95": _METER_FA,
    "meter_error_ms.voice_to_voice.p95": _METER_V2V,
    "meter_error_ms.bargein_to_silence.p95": _METER_STOP,
    "meter_error_ms.p95": (
        ("meter_error_ms.first_audio_to_speaker.p95", "first audio → speaker"),
        ("meter_error_ms.voice_to_voice.p95", "voice-to-voice"),
        ("meter_error_ms.bargein_to_silence.p95", "barge-in → silence"),
    ),
}


def _limits(results: dict[str, float]) -> dict[str, float]:
    eos = results.get("v2v_eos_silence_ms")
    mi = results.get("min_interruption_ms")
    out: dict[str, float] = {}
    if eos is not None:
        out["v2v_ms.p50"] = eos + 500.0
    if mi is not None:
        out["bargein_stop_ms.p95"] = mi + 100.0
    return out


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "not measured"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def _unit(key: str) -> str:
    return " ms" if key.rsplit(".", 1)[0].endswith("_ms") or key.endswith("_ms") else ""


def _missed(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def render(
    results: dict[str, float],
    command: str,
    failed: list[str],
    untimed: list[str],
    where: str,
    notes: list[str] | None = None,
) -> str:
    """The markdown between the e2e markers."""
    today = datetime.date.today().isoformat()
    limits = _limits(results)
    eos = f"{results.get('v2v_eos_silence_ms', math.nan):.0f}"
    mi = f"{results.get('min_interruption_ms', math.nan):.0f}"
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
        limit = limits.get(key, limit)
        target = target.format(eos=eos, mi=mi)
        mark = (
            "missed"
            if _missed(value, limit)
            else ("met" if value is not None and limit is not None else "")
        )
        if mark == "missed":
            misses.append(key)
        lines.append(f"| {label} | {_fmt(value)} | {target} | {peer} | {mark} |")
    shown = {row[0] for row in ROWS}
    extra = sorted(
        k
        for k in results
        if k not in shown
        and (k.startswith("meter_missing.") or "_stage_" in k)
        and not k.endswith(".n")
    )
    extra += [k for k in ("underruns_app_counter", "jitter_underruns_app_counter",
                          "jitter_stretch_ms.p50", "truncate_signed_ms.p50", "vad_not_silent",
                          "quiet_stuck", "bargein_vad_trials", "self_interrupt_answers",
                          "v2v_eos_silence_ms", "min_interruption_ms",
                          "device_output_latency_ms.p50", "untimed_trials", "load_avg_start",
                          "load_avg_end", "bench_seconds") if k in results]  # fmt: skip
    if extra:
        lines += ["", "| detail | value |", "|---|---|"]
        lines += [f"| `{k}` | {_fmt(results[k])} |" for k in extra]
    for key in misses:
        parts = [
            f"{label} {_fmt(results.get(k))}{_unit(k)}"
            for k, label in BREAKDOWNS.get(key, ())
            if k in results
        ]
        if parts:
            lines += ["", f"Where `{key}` goes: " + "; ".join(parts) + "."]
    if notes:
        lines += ["", *notes]
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
    notes: list[str] | None = None,
) -> None:
    """Replace only the text between the e2e markers of ``path``."""
    body = render(results, command, failed, untimed, machine(), notes)
    replace_section("e2e", body, path)
