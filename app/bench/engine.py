"""``voxdesk bench engine``: speed and accuracy of the embedded local engine.

Starts ``voxdesk serve`` in a subprocess (real server, real models), drives it over WebSocket
with generated speech, and measures: ``stt_wer.<voice>`` (espeak, flite, festival on a fixed
32-command corpus), ``eos_to_first_delta_ms`` (server VAD's end of speech → first audio delta,
audio streamed in real time), ``ptt_to_first_delta_ms`` (commit + response.create → first delta),
``tts_first_chunk_ms``, ``cancel_to_quiet_ms`` (response.cancel sent → ``response.done`` received,
after which no delta may arrive) and ``rss_mb_loaded`` of the server process. The server writes
per-response stage timings (``voxdesk serve --timings``), from which the bench reports where the
end-of-speech latency goes (``eos_stage.*``: VAD decision, transcript ready, agent decided, first
TTS chunk, first delta sent) and the server side of a cancel (``cancel_server.*``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.bench import engine_report
from app.bench.engine_corpus import COMMANDS
from app.bench.stats import percentile, wer
from app.harness.procs import ManagedProcess, private_env, spawn, wait_until
from app.harness.speech import SpeechFixtures
from app.skills.numbers import replace_number_words

log = logging.getLogger("app.bench.engine")
VOICES = ("espeak", "flite", "festival")
CHUNK_MS = 40
EVENT_TIMEOUT_S = 30.0


def _pcm(samples: np.ndarray) -> bytes:
    return bytes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def _norm(text: str) -> str:
    return replace_number_words(text.lower().replace("%", " percent"))


def measure_wer(speech: SpeechFixtures, corpus: tuple[str, ...], results: dict[str, float]) -> None:
    """Word error rate of the engine's recognizer (same settings as the server) per voice."""
    from app.local.stt import WhisperTranscriber

    stt = WhisperTranscriber()
    for voice in VOICES:
        errors = words = 0.0
        for text in corpus:
            samples, _rate = SpeechFixtures.load(speech.say(text, voice, 24000))
            hyp = stt.transcribe(_pcm(samples))
            n = len(_norm(text).split())
            errors += wer(_norm(text), _norm(hyp)) * n
            words += n
        results[f"stt_wer.{voice}"] = errors / words


def measure_tts(corpus: tuple[str, ...], results: dict[str, float]) -> None:
    """Time to the first synthesised chunk of the agent's answers (piper)."""
    from app.local.agent import Agent, Speak
    from app.local.tts import PiperSynthesizer

    tts, agent, firsts = PiperSynthesizer(), Agent(), []
    next(iter(tts.synthesize("Warm up.")))
    for text in corpus:
        decision = agent.decide(
            [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                }
            ],
            [],
        )
        answer = decision.text if isinstance(decision, Speak) else "Okay."
        start = time.perf_counter()
        next(iter(tts.synthesize(answer)))
        firsts.append((time.perf_counter() - start) * 1000)
    results["tts_first_chunk_ms.p50"] = percentile(firsts, 50)
    results["tts_first_chunk_ms.p95"] = percentile(firsts, 95)


class Client:
    """A websockets client with arrival times."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event."""
        await self.ws.send(json.dumps(event))

    async def until(self, kind: str) -> tuple[dict[str, Any], float, list[dict[str, Any]]]:
        """Receive until ``kind``; returns it, its arrival time and everything received."""
        seen = []
        while True:
            event = json.loads(await asyncio.wait_for(self.ws.recv(), EVENT_TIMEOUT_S))
            seen.append(event)
            if event["type"] == kind:
                return event, time.perf_counter(), seen


async def _connect(url: str, token: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None, open_timeout=30
    )


async def _append_paced(client: Client, pcm: bytes) -> None:
    step = CHUNK_MS * 48
    start = time.perf_counter()
    for i, offset in enumerate(range(0, len(pcm), step)):
        chunk = base64.b64encode(pcm[offset : offset + step]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        lag = start + (i + 1) * CHUNK_MS / 1000 - time.perf_counter()
        if lag > 0:
            await asyncio.sleep(lag)


async def measure_latency(
    url: str, token: str, clips: list[np.ndarray], results: dict[str, float]
) -> None:
    """VAD and push-to-talk turn latency, and cancel latency, against the running server."""
    eos, ptt, cancels, vad_lag = [], [], [], []
    ws = await _connect(url, token)
    client = Client(ws)
    await client.until("session.created")
    silence = np.zeros(int(0.9 * 24000), np.float32)
    sent_ms = 0.0  # session ms of input audio sent before this turn
    for samples in clips:  # hands-free: audio streamed in real time, server VAD ends the turn
        turn = _pcm(np.concatenate([samples, silence]))
        pumped_at = time.perf_counter()
        pump = asyncio.create_task(_append_paced(client, turn))
        stopped, stopped_at, _s = await client.until("input_audio_buffer.speech_stopped")
        # the audio that ends the turn was sent at its real-time position in the stream
        end_in_turn = stopped["audio_end_ms"] - sent_ms
        vad_lag.append((stopped_at - pumped_at) * 1000 - end_in_turn)
        sent_ms += len(turn) / 48
        _e, first_at, _s = await client.until("response.output_audio.delta")
        eos.append((first_at - stopped_at) * 1000)
        await client.until("response.done")
        await pump
    await client.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
    )
    await client.until("session.updated")
    for samples in clips:  # push-to-talk: the whole recognition is on the critical path
        pcm = _pcm(samples)
        for offset in range(0, len(pcm), 4800):
            chunk = base64.b64encode(pcm[offset : offset + 4800]).decode()
            await client.send({"type": "input_audio_buffer.append", "audio": chunk})
        released = time.perf_counter()
        await client.send({"type": "input_audio_buffer.commit"})
        await client.send({"type": "response.create"})
        _e, first_at, _s = await client.until("response.output_audio.delta")
        ptt.append((first_at - released) * 1000)
        await client.until("response.done")
    for trial in range(len(clips)):
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "help"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        await client.until("response.output_audio.delta")
        await asyncio.sleep(0.05 * (trial % 4))  # cancel at different points of the answer
        sent = time.perf_counter()
        await client.send({"type": "response.cancel"})
        done, done_at, _seen = await client.until("response.done")
        if done["response"]["status"] != "cancelled":
            continue  # it finished before the cancel arrived
        cancels.append((done_at - sent) * 1000)
        try:
            late = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
            if late.get("type") == "response.output_audio.delta":
                results["audio_after_cancel"] = 1.0
        except TimeoutError:
            pass
    await ws.close()
    for key, values in (
        ("eos_to_first_delta_ms", eos),
        ("ptt_to_first_delta_ms", ptt),
        ("cancel_to_quiet_ms", cancels),
        ("eos_stage.vad_decision_lag_ms", vad_lag),
    ):
        if values:
            results[f"{key}.p50"] = percentile(values, 50)
            results[f"{key}.p95"] = percentile(values, 95)
            results[f"{key}.n"] = float(len(values))


STAGES = ("transcript_ready", "decided", "tts_first_chunk", "first_delta")


def server_stages(records: list[dict[str, Any]], turns: int, results: dict[str, float]) -> None:
    """Per-stage breakdown from the server's timing records (in response order).

    The first ``turns`` records are the hands-free turns, the next ``turns`` the push-to-talk
    turns, the rest the cancel trials.
    """
    groups = (("eos_stage", records[:turns]), ("ptt_stage", records[turns : 2 * turns]))
    for prefix, group in groups:
        for stage in STAGES:
            values = [r["ms"][stage] for r in group if stage in r.get("ms", {})]
            if values:
                results[f"{prefix}.{stage}_ms.p50"] = percentile(values, 50)
                results[f"{prefix}.{stage}_ms.p95"] = percentile(values, 95)
        if group:
            reused = sum(1 for r in group if r.get("speculated"))
            results[f"{prefix}.speculation_reused"] = reused / len(group)
            voiced = sum(1 for r in group if r.get("presynthesized"))
            results[f"{prefix}.presynthesized"] = voiced / len(group)
    trials = [r for r in records[2 * turns :] if r.get("status") == "cancelled"]
    to_done = [r["cancel_to_done_ms"] for r in trials if r.get("cancel_to_done_ms") is not None]
    # None: no delta was sent after the cancel arrived (the last one went before it)
    after = [max(0.0, r.get("cancel_to_last_delta_ms") or 0.0) for r in trials]
    if to_done:
        results["cancel_server.to_done_ms.p50"] = percentile(to_done, 50)
        results["cancel_server.to_done_ms.p95"] = percentile(to_done, 95)
    if after:
        results["cancel_server.to_last_delta_ms.max"] = max(after)


def read_timings(path: Path) -> list[dict[str, Any]]:
    """The server's timing records (JSON lines), oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _start_server(work: Path, token: str) -> tuple[ManagedProcess, str]:
    log_path = work / "serve.log"
    timings = work / "timings.jsonl"
    proc = spawn(
        "voxdesk-serve",
        [sys.executable, "-m", "app", "serve", "--token", token, "--timings", str(timings)],
        env=private_env(overrides={"HF_HUB_OFFLINE": "1"}),
        log_path=log_path,
        cwd=Path(__file__).resolve().parents[2],
    )

    def url() -> str | None:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("URL:"):
                return line.split(None, 1)[1].strip()
        return None

    found = wait_until(url, timeout=120, what="voxdesk serve URL", alive=proc.check_alive)
    wait_until(
        lambda: (
            "[tts]" in log_path.read_text() and "ready" in log_path.read_text().split("[tts]")[-1]
        ),
        timeout=180,
        what="models loaded",
        alive=proc.check_alive,
    )
    return proc, found


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def run(args: argparse.Namespace) -> int:
    """Run the engine bench; 0 when everything was measured, 1 when a part could not be."""
    quick = bool(getattr(args, "quick", False))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    results: dict[str, float] = {"loadavg_1m_start": os.getloadavg()[0]}
    failed: list[str] = []
    wer_corpus = COMMANDS[:10] if quick else COMMANDS
    latency_corpus = COMMANDS[:6] if quick else COMMANDS[:16]
    speech = SpeechFixtures()
    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-engine-") as tmp:
        token = secrets.token_urlsafe(16)
        proc: ManagedProcess | None = None
        try:
            proc, url = _start_server(Path(tmp), token)
            clips = [SpeechFixtures.load(speech.say(t, "flite", 24000))[0] for t in latency_corpus]
            asyncio.run(measure_latency(url, token, clips, results))
            results["rss_mb_loaded"] = rss_mb(proc.pid)
            proc.stop()  # flushes and closes the timings file
            server_stages(read_timings(Path(tmp) / "timings.jsonl"), len(clips), results)
        except Exception as exc:
            log.exception("engine bench: server part failed")
            print(f"engine bench: could not measure the server part: {exc}")
            failed.append("server")
        finally:
            if proc is not None:
                proc.stop()
    parts: tuple[tuple[str, Callable[[], None]], ...] = (
        ("wer", lambda: measure_wer(speech, wer_corpus, results)),
        ("tts", lambda: measure_tts(COMMANDS, results)),
    )
    for name, part in parts:
        try:
            part()
        except Exception as exc:
            log.exception("engine bench: %s part failed", name)
            print(f"engine bench: could not measure {name}: {exc}")
            failed.append(name)
    results["loadavg_1m_end"] = os.getloadavg()[0]
    results["corpus_commands"] = float(len(wer_corpus))
    results["bench_seconds"] = time.monotonic() - t0
    command = "voxdesk bench engine" + (" --quick" if quick else "")
    command += f" --json {args.json}" if getattr(args, "json", None) else ""
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not getattr(args, "no_docs", False):
        engine_report.update_docs(results, command, failed)
    for key in sorted(results):
        print(f"{key:40s} {results[key]:10.3f}")
    return 1 if failed else 0
