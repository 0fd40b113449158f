"""``voxdesk bench startup``: launch the real app under Xvfb and time launch → window shown.

Each run starts ``python -m app`` (the ``voxdesk`` command with no subcommand: settings, core,
GUI) on a private Xvfb with the PulseAudio rig and a fresh settings file, and measures from just
before the process is spawned until X reports the VoxDesk window viewable (``xdotool search
--onlyvisible``, polled every 10 ms). The app's own mark (``VOXDESK_SHOWN``, printed on the
first event-loop turn after ``show()``) is recorded too. The app is then stopped with SIGTERM and
must exit cleanly. Target: ``startup_s.p50`` ≤ 2 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from app.bench.docs import DOCS, replace_section
from app.bench.stats import summary
from app.harness.procs import HarnessError, private_env, spawn, wait_until

REPO = Path(__file__).resolve().parents[2]
RUNS = 5
QUICK_RUNS = 3
SHOW_TIMEOUT_S = 30.0
QUIT_TIMEOUT_S = 20.0
TARGET_S = 2.0
_SHOWN = re.compile(rb"VOXDESK_SHOWN (\d+\.\d+)")


def measure_once(
    env: dict[str, str], config: Path, xdotool_env: dict[str, str]
) -> dict[str, float]:
    """Launch the app once; return ``startup_s`` (window viewable) and ``shown_mark_s``."""
    marks: list[float] = []
    t0 = time.monotonic()
    proc = spawn(
        "voxdesk",
        [sys.executable, "-m", "app", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        stdout = proc.popen.stdout
        assert stdout is not None

        def read_marks() -> None:
            for line in stdout:
                match = _SHOWN.search(line)
                if match:
                    marks.append(float(match.group(1)))

        threading.Thread(target=read_marks, name="startup-marks", daemon=True).start()

        def visible() -> float | None:
            out = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "^VoxDesk$"],
                env=xdotool_env,
                capture_output=True,
                timeout=5,
            )
            return time.monotonic() if out.stdout.strip() else None

        shown_at = wait_until(
            visible,
            timeout=SHOW_TIMEOUT_S,
            what="the VoxDesk window",
            interval=0.01,
            alive=proc.check_alive,
        )
        wait_until(lambda: marks, timeout=10, what="the app's shown mark", alive=proc.check_alive)
        proc.signal_group(signal.SIGTERM)
        wait_until(lambda: not proc.running(), timeout=QUIT_TIMEOUT_S, what="VoxDesk to quit")
        if proc.popen.returncode != 0:
            raise HarnessError(f"VoxDesk exited with {proc.popen.returncode} on SIGTERM")
        return {"startup_s": shown_at - t0, "shown_mark_s": marks[0] - t0}
    finally:
        proc.stop(timeout=5.0)


def run(args: argparse.Namespace) -> int:
    """Run the bench; print and optionally write the JSON results and the docs section."""
    from app.harness.pulse import PulseRig
    from app.harness.xvfb import Xvfb

    runs = getattr(args, "runs", None) or (QUICK_RUNS if getattr(args, "quick", False) else RUNS)
    quick = bool(getattr(args, "quick", False))
    base = Path(tempfile.mkdtemp(prefix="voxdesk-bench-startup-"))
    config = base / "settings.json"
    config.write_text(json.dumps({"schema_version": 2}), encoding="utf-8")
    samples: list[dict[str, float]] = []
    with Xvfb.start(base / "xvfb") as xvfb, PulseRig.start(base / "pulse") as rig:
        env = private_env(
            {
                **xvfb.env,
                **rig.env,
                "HOME": str(base / "home"),
                "XDG_CONFIG_HOME": str(base / "config"),
                "XDG_DATA_HOME": str(base / "data"),
                "XDG_CACHE_HOME": str(base / "cache"),
                "XDG_STATE_HOME": str(base / "state"),
                "PYTHONPATH": str(REPO),
                "QT_QPA_PLATFORM": "xcb",
                "HF_HUB_OFFLINE": "1",
                "VOXDESK_STARTUP_MARK": "1",
            }
        )
        for i in range(runs):
            sample = measure_once(env, config, xvfb.client_env())
            print(f"run {i + 1}/{runs}: window shown after {sample['startup_s']:.3f} s", flush=True)
            samples.append(sample)
    results: dict[str, float] = {}
    for key in ("startup_s", "shown_mark_s"):
        for stat, value in summary([s[key] for s in samples]).items():
            results[f"{key}.{stat}"] = round(value, 4)
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if getattr(args, "json", None):
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if not getattr(args, "no_docs", False):
        update_docs(results, "voxdesk bench startup" + (" --quick" if quick else ""))
    return 0 if results["startup_s.p50"] <= TARGET_S else 1


def render(results: dict[str, float], command: str) -> str:
    """The Markdown of the startup section."""
    cpu = platform.processor() or platform.machine()
    date = datetime.date.today().isoformat()
    return "\n".join(
        [
            "## Startup — `voxdesk bench startup`",
            "",
            f"`{command}` on {date}, {os.cpu_count()} CPUs ({cpu}), Xvfb + PulseAudio rig, "
            "fresh settings (local engine). Launch of `python -m app` → window viewable on the "
            "X server; the app's own mark is the first event-loop turn after `show()`.",
            "",
            "| measure | P50 | P95 | max | runs | target |",
            "|---|---|---|---|---|---|",
            _row("launch → window viewable (X), s", "startup_s", results, f"≤ {TARGET_S:g}"),
            _row("launch → app's shown mark, s", "shown_mark_s", results, ""),
        ]
    )


def _row(label: str, key: str, results: dict[str, float], target: str) -> str:
    return (
        f"| {label} | {results[f'{key}.p50']:.3f} | {results[f'{key}.p95']:.3f} | "
        f"{results[f'{key}.max']:.3f} | {results[f'{key}.n']:.0f} | {target} |"
    )


def update_docs(results: dict[str, float], command: str, path: Path = DOCS) -> None:
    """Replace only the text between the startup markers of ``path``."""
    body = render(results, command)
    replace_section("startup", body, path)
