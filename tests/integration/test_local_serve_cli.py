"""``voxdesk serve`` as a user runs it: a separate process printing its URL and token."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.harness.procs import private_env, spawn, wait_until
from tests.integration.local_engine_client import EngineClient, transcript_of

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_url_and_token_and_answers(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc = spawn(
        "serve",
        [sys.executable, "-m", "app", "serve", "--stt", "sphinx", "--tts", "espeak-ng"],
        env=private_env(),
        log_path=log,
        cwd=ROOT,
    )
    try:

        def lines() -> dict[str, str] | None:
            found = dict(
                line.split(":", 1)
                for line in log.read_text().splitlines()
                if line.startswith(("URL:", "Token:"))
            )
            return {k: v.strip() for k, v in found.items()} if len(found) == 2 else None

        info = wait_until(lines, timeout=60, what="URL and token", alive=proc.check_alive)
        assert info["URL"].startswith("ws://127.0.0.1:") and info["URL"].endswith("/v1/realtime")
        with EngineClient(info["URL"], info["Token"]) as c:
            assert c.recv()["type"] == "session.created"
            c.ptt_session()
            c.say_text("what is 6 times 7")
            c.send({"type": "response.create"})
            assert transcript_of(c.until("response.done")) == "That's 42."
    finally:
        assert proc.stop(timeout=10) == 0
