from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.SecretService
import pytest

from app.log import setup_logging
from app.secrets import Secret, SecretStore

KEY = "sk-proj-RealServiceKey0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def secret_service_keyring(secret_service: object) -> object:
    backend = keyring.backends.SecretService.Keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(keyring.backends.fail.Keyring())


@pytest.mark.slow
def test_round_trip_against_real_secret_service(secret_service_keyring: object) -> None:
    store = SecretStore(service="voxdesk-test")
    secure, description = store.backend_status()
    assert secure is True and "SecretService" in description
    store.delete("openai")
    assert store.get("openai") is None
    assert store.set("openai", KEY) is True
    assert not store.held_in_memory("openai")
    # A new store (as on the next run) reads it back from the keyring itself.
    again = SecretStore(service="voxdesk-test")
    assert again.get("openai") == Secret(KEY)
    assert keyring.get_password("voxdesk-test", "openai") == KEY
    again.delete("openai")
    assert SecretStore(service="voxdesk-test").get("openai") is None


@pytest.mark.slow
def test_key_from_real_keyring_never_reaches_the_log_file(
    secret_service_keyring: object, tmp_path: Path
) -> None:
    store = SecretStore(service="voxdesk-test")
    store.set("gemini", KEY)
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        log_file = setup_logging(level="DEBUG", log_dir=tmp_path)
        fresh = SecretStore(service="voxdesk-test").get("gemini")
        assert fresh is not None
        logging.getLogger("app.session").info("connecting with %s", fresh.reveal())
        logging.getLogger("app.session").info("secret object %r", fresh)
        for h in root.handlers:
            h.flush()
    finally:
        for h in [h for h in root.handlers if h not in saved]:
            root.removeHandler(h)
            h.close()
        store.delete("gemini")
    assert log_file is not None
    text = log_file.read_text()
    assert KEY not in text and "connecting with ***" in text


@pytest.mark.slow
def test_headless_without_keyring_process_keeps_key_in_memory(tmp_path: Path) -> None:
    # A fresh interpreter with no D-Bus at all: keyring falls back to its fail backend.
    code = (
        "from app.secrets import SecretStore\n"
        "import keyring.backends.fail, keyring\n"
        "keyring.set_keyring(keyring.backends.fail.Keyring())\n"
        "notes = []\n"
        "s = SecretStore(notify=notes.append)\n"
        f"print(s.set('openai', {KEY!r}), s.get('openai'), len(notes))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "False sk-proj-…*** 1"
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
