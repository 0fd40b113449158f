"""``voxdesk serve``: run the embedded local realtime engine on its own.

Prints the URL and the bearer token clients must use, then serves until interrupted. Binding a
non-loopback address needs ``--allow-remote`` and prints a warning: the engine has no TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from pathlib import Path
from typing import TextIO

from app.events import ModelLoadProgress
from app.local.llm import ChatClient
from app.local.models import STT_ENGINES, TTS_ENGINES, EngineModels
from app.local.server import LocalEngineServer
from app.local.timing import JsonlSink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``serve`` options."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: pick a free one)")
    parser.add_argument("--token", help="bearer token clients must send (default: a random one)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback address (no TLS!)"
    )
    parser.add_argument("--stt", choices=STT_ENGINES, default="whisper", help="speech recognizer")
    parser.add_argument("--tts", choices=TTS_ENGINES, default="piper", help="voice engine")
    parser.add_argument(
        "--llm-url", help="optional OpenAI-compatible chat endpoint, e.g. http://127.0.0.1:8080/v1"
    )
    parser.add_argument("--llm-model", default="local", help="model name sent to --llm-url")
    parser.add_argument(
        "--timings", type=Path, help="append each response's stage timings to FILE (JSON lines)"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _say(line: str, stream: TextIO) -> None:
    """Write one whole line in one call.

    The loader thread reports progress while the main thread prints the address; print()'s
    separate newline write let them interleave ("loadingURL: …"), which broke anything reading
    the output line by line.
    """
    stream.write(line + "\n")
    stream.flush()


def _progress(event: object) -> None:
    if isinstance(event, ModelLoadProgress):
        state = "error: " + event.error if event.error else ("ready" if event.done else "loading")
        _say(f"[{event.component}] {event.detail} - {state}", sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    if not is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"voxdesk serve: refusing to bind {args.host}: it is not a loopback address. "
                "Pass --allow-remote if you really want other machines to connect.",
                file=sys.stderr,
            )
            return 2
        print(
            f"WARNING: serving on {args.host}: anyone who can reach this port and knows the token "
            "can use the engine, and traffic is not encrypted.",
            file=sys.stderr,
        )
    llm = ChatClient(args.llm_url, model=args.llm_model) if args.llm_url else None
    models = EngineModels(stt=args.stt, tts=args.tts, observer=_progress)
    timings = getattr(args, "timings", None)
    sink = JsonlSink(timings) if timings is not None else None
    server = LocalEngineServer(
        args.host, args.port, args.token, models=models, llm=llm, timing_sink=sink
    )
    try:
        return asyncio.run(_serve(server))
    finally:
        if sink is not None:
            sink.close()


async def _serve(server: LocalEngineServer) -> int:
    try:
        await server.start_async()
    except OSError as exc:
        print(f"voxdesk serve: cannot listen: {exc}", file=sys.stderr)
        return 1
    _say(f"URL:   {server.url}", sys.stdout)
    _say(f"Token: {server.token}", sys.stdout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop_async()
    # A model load still running inside native code would abort the process at exit.
    await asyncio.to_thread(server.models.close)
    return 0
