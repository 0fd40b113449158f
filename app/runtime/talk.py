"""``voxdesk talk``: the assistant in a terminal, over SSH or from a script.

Interactive: the space bar starts and ends a push-to-talk turn (terminals report key presses but
not releases, so it toggles), ``i`` interrupts, ``q`` quits; the transcript is printed live.
``--text "…"`` sends one typed turn, prints the reply's transcript and exits. ``--json FILE``
writes an events summary, the transcript and the latency figures.

Exit codes: 0 answered, 3 the provider refused (bad key, quota, invalid request), 4 could not
connect, 5 no answer in time, 2 usage errors.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import select
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.events import (
    AssistantState,
    ConnectionChanged,
    ConnectionState,
    NoticeCategory,
    NoticeLevel,
    SessionStateChanged,
    TranscriptLine,
    UserNotice,
)
from app.runtime.commands import (
    Interrupt,
    PushToTalkPressed,
    PushToTalkReleased,
    SendText,
    SetTurnMode,
)

if TYPE_CHECKING:
    from app.runtime.core import Core

EXIT_ANSWERED = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4
EXIT_NO_ANSWER = 5

_REFUSALS = frozenset(
    {NoticeCategory.AUTHENTICATION, NoticeCategory.QUOTA, NoticeCategory.INVALID_REQUEST}
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``voxdesk talk`` options."""
    parser.add_argument("--provider", choices=("local", "openai", "custom"), help="override")
    parser.add_argument("--url", help="server address for --provider custom (ws:// or https://)")
    parser.add_argument("--model", help="model id to ask for")
    parser.add_argument("--text", help="send one typed turn, print the reply and exit")
    parser.add_argument("--json", metavar="FILE", help="write events, transcript and latency")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for an answer (default 60)"
    )
    parser.add_argument(
        "--hands-free", action="store_true", help="interactive: talk without pressing space"
    )


class TalkSession:
    """Observes the core and keeps what ``talk`` prints, decides and reports.

    Thread: ``__call__`` runs on core threads; the waiting methods on the main thread.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._cond = threading.Condition()
        self._printed: dict[str, int] = {}
        self.lines: dict[str, TranscriptLine] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.connection: ConnectionState | None = None
        self.connection_detail = ""
        self.refusal: UserNotice | None = None
        self.state: AssistantState | None = None
        self.notices: list[str] = []

    def __call__(self, event: object) -> None:
        """Record one core event (any thread) and print what the user should see."""
        with self._cond:
            self.counts[type(event).__name__] += 1
            if isinstance(event, TranscriptLine):
                self.lines[event.item_id] = event
                self._print_line(event)
            elif isinstance(event, ConnectionChanged):
                self.connection = event.state
                self.connection_detail = event.detail
            elif isinstance(event, SessionStateChanged):
                self.state = event.state
            elif isinstance(event, UserNotice):
                self.notices.append(event.text)
                if event.level is NoticeLevel.ERROR and event.category in _REFUSALS:
                    self.refusal = event
                print(f"[{event.level.value}] {event.text}", file=self._out, flush=True)
            self._cond.notify_all()

    def _print_line(self, line: TranscriptLine) -> None:
        done = self._printed.get(line.item_id, -1)
        if done < 0:
            who = "you" if line.role == "user" else "assistant"
            print(f"{who}: ", end="", file=self._out)
            done = 0
        if len(line.text) > done:
            print(line.text[done:], end="", file=self._out)
            done = len(line.text)
        if line.final and done != -2:
            tail = f"  [cut: {line.unheard}]" if line.interrupted and line.unheard else ""
            print(tail, file=self._out)
            done = -2
        self._printed[line.item_id] = done
        self._out.flush()

    def wait_connected(self, timeout: float) -> int | None:
        """Wait for the connection; return an exit code when it failed, None when connected."""
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self.connection in (ConnectionState.CONNECTED, ConnectionState.FAILED)
                    or self.refusal is not None
                ),
                timeout,
            )
            if self.refusal is not None:
                return EXIT_REFUSED
            if self.connection is ConnectionState.CONNECTED:
                return None
            return EXIT_UNREACHABLE

    def wait_answer(self, known: set[str], timeout: float) -> int:
        """Wait until an assistant line not in ``known`` is final and playback has finished."""

        def answered() -> bool:
            return any(
                line.role == "assistant" and line.final and item not in known
                for item, line in self.lines.items()
            ) and self.state not in (AssistantState.ASSISTANT_SPEAKING, AssistantState.THINKING)

        with self._cond:
            self._cond.wait_for(
                lambda: (
                    answered()
                    or self.refusal is not None
                    or self.connection is ConnectionState.FAILED
                ),
                timeout,
            )
            if self.refusal is not None:
                return EXIT_REFUSED
            if answered():
                return EXIT_ANSWERED
            if self.connection is ConnectionState.FAILED:
                return EXIT_UNREACHABLE
            return EXIT_NO_ANSWER


def run(args: argparse.Namespace) -> int:
    """Run ``voxdesk talk``."""
    from app.runtime.core import Core
    from app.secrets import SecretStore
    from app.settings.store import SettingsStore

    if args.provider == "custom" and not args.url:
        print("voxdesk talk: --provider custom needs --url", file=sys.stderr)
        return EXIT_USAGE
    saved: SettingsStore = args.settings_store
    store = SettingsStore(None)  # overrides stay in memory: talk never rewrites settings
    store.apply(saved.current.non_defaults())
    overrides: dict[str, object] = {}
    if args.provider:
        overrides["session.provider"] = args.provider
    if args.url:
        overrides["session.url"] = args.url
    if args.model:
        overrides["session.model"] = args.model
    if args.text is None and args.hands_free:
        overrides["session.turn_mode"] = "hands_free"
    elif args.text is None:
        overrides["session.turn_mode"] = "push_to_talk"
    store.apply(overrides)

    talk = TalkSession(sys.stdout)
    core = Core(store, SecretStore(notify=talk))
    core.subscribe(talk)
    started = time.monotonic()
    try:
        try:
            core.start()
        except Exception as exc:  # e.g. the local engine could not start: say so, no traceback
            print(f"voxdesk talk: could not start: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        code = talk.wait_connected(min(args.timeout, 30.0))
        if code is None:
            if args.text is not None:
                known = set(talk.lines)
                core.submit(SendText(args.text))
                code = talk.wait_answer(known, args.timeout)
            else:
                code = _interactive(core, talk, hands_free=args.hands_free)
        elif code == EXIT_UNREACHABLE:
            print(f"voxdesk talk: could not connect: {talk.connection_detail}", file=sys.stderr)
    finally:
        core.stop()
    if args.json:
        _write_report(Path(args.json), talk, core, code, time.monotonic() - started)
    return code


def _interactive(core: Core, talk: TalkSession, *, hands_free: bool) -> int:
    submit = core.submit
    if hands_free:
        submit(SetTurnMode("hands_free"))
    print(
        "space: start/stop talking · i: interrupt · q: quit"
        if not hands_free
        else "hands-free: just talk · i: interrupt · q: quit",
        file=sys.stderr,
    )
    talking = False
    with _cbreak(sys.stdin) as interactive:
        if not interactive:
            print("voxdesk talk: stdin is not a terminal; use --text", file=sys.stderr)
            return EXIT_USAGE
        while True:
            if talk.connection is ConnectionState.FAILED:
                return EXIT_REFUSED if talk.refusal is not None else EXIT_UNREACHABLE
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            if not ready:
                continue
            key = os.read(sys.stdin.fileno(), 1)
            if key in (b"q", b"\x04"):
                return EXIT_ANSWERED
            if key == b"i":
                submit(Interrupt())
            elif key == b" " and not hands_free:
                talking = not talking
                submit(PushToTalkPressed() if talking else PushToTalkReleased())
                print("[listening…]" if talking else "[sent]", file=sys.stderr)


@contextlib.contextmanager
def _cbreak(stream: TextIO) -> Iterator[bool]:
    """Put a terminal in cbreak mode (keys arrive one by one, unechoed); restore it afterwards."""
    if not stream.isatty():
        yield False
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _write_report(path: Path, talk: TalkSession, core: object, code: int, seconds: float) -> None:
    latency = core.latency()  # type: ignore[attr-defined]
    report = {
        "exit_code": code,
        "seconds": round(seconds, 3),
        "events": dict(talk.counts),
        "notices": talk.notices,
        "transcript": [
            {
                "item_id": line.item_id,
                "role": line.role,
                "text": line.text,
                "final": line.final,
                "interrupted": line.interrupted,
                "unheard": line.unheard,
            }
            for line in sorted(talk.lines.values(), key=lambda line: line.started_at)
        ],
        "latency": latency.as_dict(),
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
