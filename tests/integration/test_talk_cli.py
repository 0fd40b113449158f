"""``voxdesk talk`` in a subprocess: answered, refused and unreachable, with their exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.scripted_server import ScriptedServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def talk(args: list[str], tmp_path: Path, env: dict[str, str], timeout: float) -> Any:
    config = tmp_path / "settings.json"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = {
        **os.environ,
        **env,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", "--config", str(config), "talk", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_text_turn_against_the_local_engine_answers_and_writes_json(
    pulse_rig: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    result = talk(
        ["--provider", "local", "--text", "what is two plus two", "--json", str(out)],
        tmp_path,
        pulse_rig.client_env(),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report) >= {"events", "transcript", "latency"}
    answer = " ".join(t["text"] for t in report["transcript"] if t["role"] == "assistant")
    assert "four" in answer.lower() or "4" in answer
    assert "four" in result.stdout.lower() or "4" in result.stdout
    assert report["events"]["ConnectionChanged"] >= 1
    assert {s["segment"] for s in report["latency"]["segments"]} >= {"voice_to_voice"}


def test_refused_key_exits_3(pulse_rig: Any, tmp_path: Path) -> None:
    with ScriptedServer(reject=lambda i: 401) as srv:
        result = talk(
            ["--provider", "custom", "--url", srv.url, "--text", "hi", "--timeout", "10"],
            tmp_path,
            pulse_rig.client_env(),
            timeout=60,
        )
        assert result.returncode == 3, result.stderr[-2000:]
        assert srv.attempts == 1  # refused means no retry


def test_unreachable_port_exits_4(pulse_rig: Any, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/v1/realtime"
    result = talk(
        ["--provider", "custom", "--url", url, "--text", "hi", "--timeout", "3"],
        tmp_path,
        pulse_rig.client_env(),
        timeout=60,
    )
    assert result.returncode == 4, result.stderr[-2000:]
    assert "could not connect" in result.stderr
