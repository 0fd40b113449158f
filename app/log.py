"""Logging set-up: one logger per subsystem, a rotating file, stderr, and secret redaction.

Logger names (``logging.getLogger(name)``):

- ``app`` — parent of every core logger; ``app.runtime`` wires the parts;
- ``app.audio`` — devices, streams, DSP; ``app.audio.engine`` — the engine thread;
- ``app.session`` — the realtime connection; ``app.session.state`` — barge-in state machine moves;
- ``app.local`` — the embedded offline engine (STT, agent, TTS);
- ``app.settings`` — loading, migrating, saving settings; ``app.secrets`` — the keyring;
- ``app.doctor`` — ``voxdesk doctor``;
- ``ui`` — the Qt front end (``ui.<module>`` below it).

Every handler installed here carries a ``RedactingFilter``: API keys registered at run time with
``register_secret`` and anything that looks like a key or an ``Authorization`` header are replaced
by ``***`` in the message, its arguments, exception tracebacks and stack info.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from pathlib import Path

SUBSYSTEMS: tuple[str, ...] = (
    "app",
    "app.runtime",
    "app.audio",
    "app.audio.engine",
    "app.session",
    "app.session.state",
    "app.local",
    "app.settings",
    "app.secrets",
    "app.doctor",
    "ui",
)
"""Documented logger names; modules log under these (or a child of them)."""

LOG_FILENAME = "voxdesk.log"
"""Name of the rotating log file inside the log directory."""

MAX_BYTES = 1_000_000
"""Size at which the log file rotates."""

BACKUP_COUNT = 3
"""Rotated files kept (``voxdesk.log.1`` … ``.3``)."""

MASK = "***"
"""What a redacted secret is replaced with."""

_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words everywhere

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers, as text ("Authorization: Bearer x") or in a dict repr.
    (re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n]+"""), r"\1" + MASK),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (re.compile(r"""(?i)(api[_-]?key['"]?\s*[:=]\s*['"]?)[^'"\s,;&}]+"""), r"\1" + MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{10,}"), "sk-" + MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), "AIza" + MASK),
)

_secrets_lock = threading.Lock()
_secrets: tuple[str, ...] = ()

_HANDLER_TAG = "_voxdesk_handler"


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in log output from now on (for this process).

    Thread: any. Values shorter than four characters are ignored.
    """
    global _secrets
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value not in _secrets:
            # Longest first, so a secret containing another is masked whole.
            _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and key-like strings replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record so no secret reaches a handler's output.

    The message is rendered with its arguments, then redacted (``args`` are cleared); exception
    and stack text is rendered and redacted into ``exc_text``/``stack_info``. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(handler: logging.Handler) -> logging.Handler:
    """Add a ``RedactingFilter`` to ``handler`` unless it has one; return the handler."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    return handler


def stderr_level(verbosity: int) -> int:
    """Return the stderr threshold for ``-v`` counts: WARNING, INFO (``-v``), DEBUG (``-vv``)."""
    if verbosity >= 2:
        return logging.DEBUG
    return logging.INFO if verbosity == 1 else logging.WARNING


def setup_logging(
    verbosity: int = 0, level: str | None = None, log_dir: Path | None = None
) -> Path | None:
    """Configure logging for the process; safe to call again (it replaces its own handlers).

    Args:
        verbosity: number of ``-v`` flags; sets the stderr threshold.
        level: the ``log.level`` setting (``DEBUG``/``INFO``/``WARNING``/``ERROR``) for the file;
            ``INFO`` when ``None``.
        log_dir: directory of the rotating file; the platform log directory when ``None``.

    Returns:
        The log file path, or ``None`` when the file could not be opened (stderr still works).
    """
    file_level = logging.getLevelName((level or "INFO").upper())
    if not isinstance(file_level, int):
        file_level = logging.INFO
    console_level = stderr_level(verbosity)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()

    formatter = logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
    )
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("voxdesk: %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [console]

    log_path: Path | None = None
    file_problem: str | None = None
    try:
        if log_dir is None:
            from app.paths import log_dir as platform_log_dir

            log_dir = platform_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / LOG_FILENAME
        file_handler = logging.handlers.RotatingFileHandler(
            log_path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
        file_handler.setLevel(file_level)
        file_handler.setFormatter(formatter)
        handlers.append(file_handler)
    except OSError as exc:
        log_path = None
        file_problem = f"cannot write the log file in {log_dir}: {exc.strerror or exc}"

    for handler in handlers:
        setattr(handler, _HANDLER_TAG, True)
        install_redaction(handler)
        root.addHandler(handler)
    # Third-party libraries log at WARNING and above; our own loggers go as low as any handler.
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    ours = min(file_level if log_path else logging.CRITICAL, console_level)
    for name in ("app", "ui"):
        logging.getLogger(name).setLevel(ours)
    if file_problem:
        logging.getLogger("app").warning("%s; logging to stderr only", file_problem)
    return log_path


def set_file_level(level: str) -> None:
    """Apply a new ``log.level`` setting to the log file at once, keeping the stderr threshold."""
    file_level = logging.getLevelName(level.upper())
    if not isinstance(file_level, int):
        return
    ours = file_level
    for handler in logging.getLogger().handlers:
        if not getattr(handler, _HANDLER_TAG, False):
            continue
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            handler.setLevel(file_level)
        else:
            ours = min(ours, handler.level)
    for name in ("app", "ui"):
        logging.getLogger(name).setLevel(ours)


__all__ = [
    "BACKUP_COUNT",
    "LOG_FILENAME",
    "MASK",
    "MAX_BYTES",
    "SUBSYSTEMS",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "register_secret",
    "set_file_level",
    "setup_logging",
    "stderr_level",
]
