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
        "response.cancel → response.done (no delta after), P95",
        "≤ 20 ms",
        "{:.1f} ms",
    ),
    ("rss_mb_loaded", "server RSS with models loaded", "≤ 700 MB", "{:.0f} MB"),
)

NOTES = """\
End of speech is when the server's VAD declares it (`input_audio_buffer.speech_stopped`, default
`silence_duration_ms` 500, i.e. 500 ms after the last word); recognition starts speculatively
160 ms into that silence, so it is mostly done when the turn ends. Push-to-talk puts the whole
recognition on the critical path. Audio is streamed in real time in 40 ms chunks; the server runs
as `voxdesk serve` in its own process (whisper tiny.en int8 greedy, piper joe-medium)."""


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
