"""The local engine section of ``docs/benchmarks.md`` (between the engine markers only)."""

from __future__ import annotations

import datetime
import math
import os
import platform
from pathlib import Path

from app.bench.docs import DOCS, replace_section

ROWS = (
    ("stt_wer.espeak", "STT word error rate, espeak-ng voice", "—", "{:.1%}"),
    ("stt_wer.flite", "STT word error rate, flite slt", "≤ 10 %", "{:.1%}"),
    ("stt_wer.festival", "STT word error rate, festival slt HTS", "≤ 10 %", "{:.1%}"),
    (
        "eos_to_first_delta_ms.p50",
        "end of speech (VAD) → first audio delta, P50",
        "≤ 450 ms",
        "{:.0f} ms",
    ),
    (
        "eos_to_first_delta_ms.p95",
        "end of speech (VAD) → first audio delta, P95",
        "≤ 700 ms",
        "{:.0f} ms",
    ),
    (
        "ptt_to_first_delta_ms.p50",
        "push-to-talk release → first audio delta, P50",
        "—",
        "{:.0f} ms",
    ),
    (
        "ptt_to_first_delta_ms.p95",
        "push-to-talk release → first audio delta, P95",
        "—",
        "{:.0f} ms",
    ),
    ("tts_first_chunk_ms.p50", "piper first chunk of an answer, P50", "—", "{:.0f} ms"),
    (
        "cancel_to_quiet_ms.p95",
        "response.cancel → response.done (no delta after), P95, client side",
        "≤ 20 ms",
        "{:.1f} ms",
    ),
    (
        "cancel_server.to_done_ms.p95",
        "cancel received → response.done sent, P95, server side",
        "≤ 20 ms",
        "{:.1f} ms",
    ),
    (
        "cancel_server.to_last_delta_ms.max",
        "cancel received → last audio delta sent, worst (0: none after)",
        "0 ms",
        "{:.1f} ms",
    ),
    ("rss_mb_loaded", "server RSS with models loaded", "≤ 700 MB", "{:.0f} MB"),
)

NOTES = """\
End of speech is when the server's VAD declares it (`input_audio_buffer.speech_stopped`, default
`silence_duration_ms` 500, i.e. 500 ms after the last word). Recognition starts speculatively
160 ms into that silence, and a throw-away copy of the agent answers that transcript, so the first
clause of the answer is synthesised before the turn ends; the response uses that audio only when
its real first clause is the same text (the speculation has no side effects: timers and memory
are the real agent's). Push-to-talk puts the whole recognition on the critical path. Audio is
streamed in real time in 40 ms chunks; the server runs as `voxdesk serve` in its own process
(whisper tiny.en int8 greedy, piper joe-medium). Whisper encodes a 15 s window (speech + at
least 7 s of silence) instead of 30 s: the encoder is most of its cost, and the WER is unchanged
on this corpus. Both engines run once at load on their own threads, so the first turn is not the
slowest. A long first sentence is synthesised from its first clause on. A cancel aborts piper
mid-sentence (onnxruntime run termination), so the voice thread is free for the next answer.
The client-side cancel figure includes the client's own scheduling and reading what was already
in the socket; the server-side figures start when the server read the cancel."""


STAGE_ROWS = (
    ("vad_decision_lag_ms", "VAD decision lag (speech_stopped after the silence was sent)"),
    ("transcript_ready_ms", "transcript ready"),
    ("decided_ms", "agent decided"),
    ("tts_first_chunk_ms", "first TTS chunk synthesised"),
    ("first_delta_ms", "first audio delta sent"),
)


def _stage_table(results: dict[str, float]) -> list[str]:
    lines = [
        "",
        "Where the turn latency goes (server marks, ms after the turn ended: VAD `speech_stopped`",
        "for hands-free, `commit` for push-to-talk; cumulative):",
        "",
        "| stage | hands-free P50 | hands-free P95 | push-to-talk P50 | push-to-talk P95 |",
        "|---|---|---|---|---|",
    ]
    for key, label in STAGE_ROWS:
        cells = []
        for prefix in ("eos_stage", "ptt_stage"):
            for q in ("p50", "p95"):
                value = results.get(f"{prefix}.{key}.{q}")
                cells.append("—" if value is None or math.isnan(value) else f"{value:.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    reused = results.get("eos_stage.speculation_reused")
    voiced = results.get("eos_stage.presynthesized")
    if reused is not None and voiced is not None:
        lines += [
            "",
            f"Hands-free turns answered from the speculative transcript: {reused:.0%}; "
            f"whose first clause was already synthesised when the turn ended: {voiced:.0%}.",
        ]
    return lines


def render(results: dict[str, float], command: str, failed: list[str]) -> str:
    """The markdown between the engine markers."""
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    lines = [
        "## Local engine — `voxdesk bench engine`",
        "",
        f"Command: `{command}` · machine: {machine} · run {datetime.date.today().isoformat()}.",
        "",
        "| metric | value | target |",
        "|---|---|---|",
    ]
    for key, label, target, fmt in ROWS:
        value = results.get(key)
        shown = "not measured" if value is None or math.isnan(value) else fmt.format(value)
        lines.append(f"| {label} | {shown} | {target} |")
    load = [results.get("loadavg_1m_start"), results.get("loadavg_1m_end")]
    if all(v is not None for v in load):
        lines += [
            "",
            f"Machine load (1-min load average) at start / end: {load[0]:.1f} / "
            f"{load[1]:.1f} — other jobs shared the 2 cores; latencies scale with it.",
        ]
    lines += _stage_table(results)
    lines += ["", NOTES]
    if failed:
        lines += ["", "Parts not measured in this run: " + ", ".join(failed) + "."]
    return "\n".join(lines)


def update_docs(
    results: dict[str, float], command: str, failed: list[str], path: Path = DOCS
) -> None:
    """Replace only the text between the engine markers of ``path``."""
    body = render(results, command, failed)
    replace_section("engine", body, path)
