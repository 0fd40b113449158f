from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import log as applog
from app.log import RedactingFilter, redact, register_secret, setup_logging

KEY = "sk-proj-AbCdEf0123456789ghIJklMNopQRstuv"
RUNTIME_TOKEN = "local-engine-token-5f1e2d3c4b"


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_levels = {n: logging.getLogger(n).level for n in ("app", "ui")}
    yield
    for handler in [h for h in root.handlers if getattr(h, applog._HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, applog._HANDLER_TAG, False)]


@pytest.mark.parametrize(
    "text",
    [
        f"key is {KEY}",
        "Authorization: Bearer abc.def-ghi_jkl",
        "{'Authorization': 'Bearer zzzzzzzzzzzz', 'x': 1}",
        "headers Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "google AIzaSyA1234567890abcdefghijklmnopqrstu",
        "OPENAI_API_KEY=whatever-it-is-123",
        '{"api_key": "plain-value-123"}',
    ],
)
def test_patterns_are_masked(text: str) -> None:
    out = redact(text)
    assert applog.MASK in out
    for secret in (
        KEY,
        "abc.def-ghi_jkl",
        "zzzzzzzzzzzz",
        "eyJhbGciOiJIUzI1NiJ9",
        "AIzaSyA123",
        "whatever-it-is-123",
        "plain-value-123",
    ):
        assert secret not in out


def test_registered_secret_is_masked_anywhere() -> None:
    register_secret(RUNTIME_TOKEN)
    assert (
        redact(f"ws://127.0.0.1:9/?token={RUNTIME_TOKEN}&x=1") == "ws://127.0.0.1:9/?token=***&x=1"
    )
    register_secret("ab")  # too short to mask safely: ignored
    assert redact("abc") == "abc"


def test_filter_redacts_message_args_and_traceback() -> None:
    register_secret(KEY)
    try:
        raise ValueError(f"server rejected {KEY}")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "app.session",
            logging.ERROR,
            __file__,
            1,
            "connect with %s failed: %r",
            (KEY, {"Authorization": f"Bearer {KEY}"}),
            sys.exc_info(),
        )
    record.stack_info = f"Stack (most recent call last):\n  key={KEY}"
    assert RedactingFilter().filter(record) is True
    formatted = logging.Formatter().format(record)
    assert KEY not in formatted and "connect with *** failed" in formatted
    assert "ValueError: server rejected ***" in formatted
    assert "key=***" in formatted


def test_file_handler_never_writes_the_key(tmp_path: Path, clean_logging: None) -> None:
    register_secret(KEY)
    path = setup_logging(verbosity=0, level="DEBUG", log_dir=tmp_path)
    assert path == tmp_path / applog.LOG_FILENAME
    logger = logging.getLogger("app.secrets")
    logger.debug("stored key %s", KEY)
    logger.info(f"f-string leak {KEY}")
    try:
        {"k": 1}[KEY]
    except KeyError:
        logger.exception("lookup failed")
    logging.getLogger("websockets.client").warning("> Authorization: Bearer %s", KEY)
    for h in _ours():
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert KEY not in text
    assert "stored key ***" in text and "f-string leak ***" in text
    assert "Traceback" in text and "KeyError: '***'" in text
    assert "Authorization: ***" in text


def test_setup_is_idempotent_and_levels_follow_verbosity(
    tmp_path: Path, clean_logging: None
) -> None:
    setup_logging(log_dir=tmp_path)
    setup_logging(log_dir=tmp_path)
    setup_logging(verbosity=2, log_dir=tmp_path)
    handlers = _ours()
    assert len(handlers) == 2
    stream = next(h for h in handlers if type(h) is logging.StreamHandler)
    assert stream.level == logging.DEBUG
    assert logging.getLogger("app").getEffectiveLevel() == logging.DEBUG
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in handlers)
    rotating = next(h for h in handlers if isinstance(h, logging.handlers.RotatingFileHandler))
    assert rotating.maxBytes == 1_000_000 and rotating.backupCount == 3
    assert rotating.level == logging.INFO
    setup_logging(verbosity=1, level="ERROR", log_dir=tmp_path)
    assert logging.getLogger("app.audio").getEffectiveLevel() == logging.INFO
    assert applog.stderr_level(0) == logging.WARNING


def test_log_file_rotates(tmp_path: Path, clean_logging: None) -> None:
    setup_logging(level="INFO", log_dir=tmp_path)
    logger = logging.getLogger("app.audio")
    line = "x" * 1000
    for _ in range(5000):
        logger.info(line)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["voxdesk.log", "voxdesk.log.1", "voxdesk.log.2", "voxdesk.log.3"]
    assert all(p.stat().st_size <= 1_000_000 + 2000 for p in tmp_path.iterdir())


def test_unwritable_log_dir_falls_back_to_stderr(tmp_path: Path, clean_logging: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert setup_logging(log_dir=blocker / "logs") is None
    assert len(_ours()) == 1


def test_subsystem_names_documented() -> None:
    for name in (
        "app.audio",
        "app.audio.engine",
        "app.session",
        "app.session.state",
        "app.local",
        "app.settings",
        "app.secrets",
        "ui",
    ):
        assert name in applog.SUBSYSTEMS
        assert name in (applog.__doc__ or "")


def test_log_level_setting_applies_to_the_file_at_once(tmp_path: Path) -> None:
    from app.log import set_file_level

    log_path = setup_logging(verbosity=0, level="WARNING", log_dir=tmp_path)
    assert log_path is not None
    logging.getLogger("app.settings").info("before the change")
    set_file_level("DEBUG")
    logging.getLogger("app.settings").debug("after the change")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_path.read_text(encoding="utf-8")
    assert "before the change" not in text
    assert "after the change" in text
