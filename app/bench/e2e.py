"""``voxdesk bench e2e [--quick] [--provider local] --json FILE``: the speaker-side truth.

Runs the real app core headless on a private PulseAudio rig and measures from outside the app,
on the speaker monitor and the mic feed (one monotonic clock, see ``app.harness.recorder``):

1. scripted phase: a scripted OpenAI-Realtime server on 127.0.0.1 (``e2e_scripted``) answers
   with known probe signals: first audio → speaker, underruns in steady playback and under
   ±30 ms send jitter, button and server barge-in → silence, truncate accuracy, and the app's own
   latency meter against all of these;
2. voice phase: VAD barge-in with the echo loopback on (duck and stop) and answers played with
   nobody speaking (self-interrupts) in ``e2e_vad``; then spoken questions from three synthetic
   voices into the mic, the embedded local engine answering: voice-to-voice (``e2e_voice``).

Writes a flat JSON object and the e2e section of docs/benchmarks.md. Exits 1 only when a phase
could not measure at all (a missed target is a finding, not a failure).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

from app.bench import e2e_report
from app.bench.e2e_app import HeadlessApp, Rig
from app.bench.e2e_scripted import ScriptedRealtimeServer
from app.bench.e2e_stream import Pacing
from app.bench.e2e_trials import Samples, answer_trials, bargein_trials
from app.bench.stats import percentile

log = logging.getLogger("app.bench")


def scripted_phase(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """All trials against the scripted server (see the module docstring)."""
    speaker, _mic = rig.ears
    n_answers, n_jitter, n_barge = (4, 3, 6) if quick else (20, 20, 30)
    with ScriptedRealtimeServer(Pacing(seconds=1.5)) as server:
        app = HeadlessApp(work / "core-scripted", server=(server.url, server.token))
        app.start(timeout=30.0)
        try:
            answer_trials(app, server, speaker, out, n_answers, Pacing(seconds=1.5), "")
            jitter = Pacing(speed=1.0, jitter_ms=30.0, seconds=2.0, seed=11)
            answer_trials(app, server, speaker, out, n_jitter, jitter, "jitter_")
            bargein_trials(app, server, speaker, out, n_barge, "button", seed=21)
            bargein_trials(app, server, speaker, out, n_barge, "server", seed=31)
            tel = app.core.telemetry()
            if tel is not None:
                out.add("device_output_latency_ms", tel.output_latency_ms)
        finally:
            app.stop()


def summarize(out: Samples) -> dict[str, float]:
    """The flat JSON object: percentiles and counts under the issue's key names."""
    v = out.values
    res: dict[str, float] = {}

    def pcts(src: str, dst: str, qs: tuple[int, ...]) -> None:
        values = v.get(src) or []
        if values:
            for q in qs:
                res[f"{dst}.p{q}"] = percentile(values, q)
            res[f"{dst}.n"] = float(len(values))

    pcts("first_audio_to_speaker_ms", "first_audio_to_speaker_ms", (50, 95))
    pcts("jitter_first_audio_to_speaker_ms", "jitter_first_audio_to_speaker_ms", (50, 95))
    pcts("button_stop_ms", "bargein_button_stop_ms", (50, 95, 99))
    pcts("server_stop_ms", "server_bargein_stop_ms", (50, 95, 99))
    pcts("button_react_ms", "bargein_button_react_ms", (50, 95))
    pcts("server_react_ms", "server_bargein_react_ms", (50, 95))
    pcts("truncate_error_ms", "truncate_error_ms", (50, 95))
    pcts("truncate_signed_ms", "truncate_signed_ms", (50,))
    pcts("v2v_ms", "v2v_ms", (50, 95, 99))
    pcts("vad_duck_ms", "bargein_duck_ms", (50, 95))
    pcts("vad_stop_ms", "bargein_stop_ms", (50, 95, 99))
    for key in ("v2v_meter_speech_end_to_first_audio_ms", "device_output_latency_ms"):
        pcts(key, key, (50, 95))
    for key in sorted(v):
        if "_stage_" in key:  # signed: P5 shows the early side
            pcts(key, key, (5, 50, 95))
    for key in ("v2v_eos_silence_ms", "min_interruption_ms"):
        if v.get(key):
            res[key] = v[key][-1]
    for key in (
        "vad_not_stopped",
        "vad_not_silent",
        "quiet_stuck",
        "vad_preempted",
        "vad_duck_untimed",
    ):
        res[key] = float(sum(v.get(key, [])))
    if "gaps" in v:
        res["underruns"] = float(sum(v["gaps"]))
        res["underruns_app_counter"] = float(sum(v.get("underruns_app", [])))
    if "jitter_gaps" in v:
        res["jitter_underruns"] = float(sum(v["jitter_gaps"]))
        res["jitter_underruns_first_answer"] = float(sum(v.get("jitter_gaps_first", [])))
        res["jitter_underruns_app_counter"] = float(sum(v.get("jitter_underruns_app", [])))
        res["jitter_stretch_ms.p50"] = percentile(v["jitter_stretch_ms"], 50)
    if "self_interrupts" in v:
        res["self_interrupts"] = float(sum(v["self_interrupts"]))
        res["self_interrupt_answers"] = float(len(v["self_interrupts"]))
        res["self_interrupt_other_cuts"] = float(sum(v.get("self_interrupt_other_cuts", [])))
    if "vad_attempts" in v:
        res["bargein_vad_trials"] = float(sum(v["vad_attempts"]))
    errors: list[float] = []
    for key, values in v.items():
        if key.startswith("meter_error_ms."):
            errors += values
            res[f"{key}.p95"] = percentile(values, 95)
        if key.startswith("meter_missing."):
            res[key] = float(len(values))
    if errors:
        res["meter_error_ms.p95"] = percentile(errors, 95)
    if "truncate_missing" in v:
        res["truncate_missing"] = float(len(v["truncate_missing"]))
    res["untimed_trials"] = float(len(out.failures))
    return res


def _revision() -> str:
    """The checkout's commit, and whether ``app/`` had uncommitted changes (best effort)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    return f"commit {head or '?'}" + (" with uncommitted changes in app/" if dirty else "")


def _notes(quick: bool, results: dict[str, float]) -> list[str]:
    counts = (
        "4 + 3 jitter answers, 6 + 6 button/server barge-ins, 4 VAD barge-ins, 3 quiet answers, "
        "3 spoken questions"
        if quick
        else "20 + 20 jitter answers, 30 + 30 button/server barge-ins, 52 VAD barge-ins, "
        "50 quiet answers, 33 spoken questions in three voices"
    )
    return [
        f"Run conditions: {'quick' if quick else 'full'} mode ({counts}); {_revision()}; "
        f"load average (1 min) {results['load_avg_start']:.2f} at the start and "
        f"{results['load_avg_end']:.2f} at the end, on a 2-core machine shared with other jobs "
        "(timing noise: single outliers are the machine, percentiles are the app).",
        "Stages (`*_stage_*`) split the totals with the app's own latency marks and state "
        "changes against the outside times; signed stages are app mark − outside time or the "
        "reverse as named. VAD stops are timed up to 5 s after the onset; trials with no cut by "
        "then are counted in `vad_not_stopped`, not dropped. Meter errors compare each app "
        "turn (matched by the time of its marks) with the same trial measured outside.",
        "Output: the app's default, an on-demand output stream (started when audio is queued, "
        "aborted on a flush); the mic runs on its own always-on input stream. The echo path is "
        "the rig's `module-loopback` from the speaker monitor into the mic feed at half gain.",
        "Rig resolution: the speaker is a PulseAudio null sink whose monitor receives audio as "
        "the sink renders it, in blocks of about 10 ms; a flush silences the monitor from the "
        "last render before it, so stop times (and `*_silence_error_ms`) can read a few ms "
        "below zero. Differences under ~10 ms are at the rig's resolution.",
    ]


def run(args: argparse.Namespace) -> int:
    """Run the bench; 0 when every phase measured, 1 when one could not measure at all."""
    quick = bool(getattr(args, "quick", False))
    provider = getattr(args, "provider", None) or "local"
    if provider != "local":
        print(f"bench e2e: provider {provider!r} is not supported (only 'local')")
        return 2
    out = Samples()
    failed: list[str] = []
    t0 = time.monotonic()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-e2e-") as tmp:
        work = Path(tmp)
        rig = Rig(work)
        try:
            phases = [("scripted", scripted_phase)]
            try:
                from app.bench.e2e_voice import voice_phase
            except ImportError as exc:
                log.warning("voice phase unavailable: %s", exc)
                failed.append("voice")
            else:
                phases.append(("voice", voice_phase))
            for name, phase in phases:
                try:
                    phase(rig, work, quick, out)
                except Exception as exc:  # noqa: BLE001 - report and go on with the next phase
                    log.exception("bench e2e: %s phase failed", name)
                    print(f"bench e2e: could not measure the {name} phase: {exc}")
                    failed.append(name)
        finally:
            rig.close()
    results = summarize(out)
    results["bench_seconds"] = time.monotonic() - t0
    results["load_avg_start"] = load_start
    results["load_avg_end"] = os.getloadavg()[0]
    command = "voxdesk bench e2e" + (" --quick" if quick else "") + " --provider local"
    if args.json:
        command += f" --json {args.json}"
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not getattr(args, "no_docs", False):
        e2e_report.update_docs(results, command, failed, out.failures, notes=_notes(quick, results))
    for key in sorted(results):
        print(f"{key:50s} {results[key]:10.2f}")
    for what in out.failures:
        print(f"untimed: {what}")
    measured_any = any(k.endswith(".p50") for k in results)
    return 1 if failed or not measured_any else 0
