from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
from keyrings.alt.file import PlaintextKeyring

from app.events import NoticeCategory, UserNotice
from app.log import redact
from app.secrets import Secret, SecretStore, choose_backend

KEY = "sk-proj-TestKey0123456789abcdefXYZ"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A secure-looking backend held in a dict (priority 5), for unit tests only."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.data[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("No such password!") from None


class LeakyLockedKeyring(MemoryKeyring):
    """A secure backend whose errors quote the password, like a careless backend might."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked(f"cannot store {password} for {username}")

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("collection locked")


def test_secret_never_shows_its_value() -> None:
    s = Secret(KEY)
    assert s.reveal() == KEY
    for text in (
        repr(s),
        str(s),
        f"{s}",
        f"{s!r}",
        logging.Formatter().format(logging.makeLogRecord({"msg": "%s", "args": (s,)})),
        repr([s]),
        repr({"k": s}),
    ):
        assert KEY not in text
        assert "TestKey" not in text
    assert repr(s) == "Secret('sk-proj-…***')"
    assert repr(Secret("hunter2-hunter2")) == "Secret('***')"
    assert Secret(KEY) == s and Secret("other-key-123") != s
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(ValueError) as info:
        Secret("")
    assert "non-empty" in str(info.value)


def test_round_trip_through_a_secure_backend() -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend=backend)
    assert store.backend_status()[0] is True
    assert store.get("openai") is None
    assert store.set("openai", KEY) is True
    assert backend.data[("voxdesk", "openai")] == KEY
    got = store.get("openai")
    assert got is not None and got.reveal() == KEY and not store.held_in_memory("openai")
    assert KEY not in redact(f"using {KEY}")  # registered on set
    store.delete("openai")
    assert store.get("openai") is None
    store.delete("openai")  # deleting what is not there is fine


def test_no_backend_keeps_key_in_memory_and_tells_user(tmp_path: Path) -> None:
    notices: list[UserNotice] = []
    store = SecretStore(backend=keyring.backends.fail.Keyring(), notify=notices.append)
    secure, description = store.backend_status()
    assert secure is False and "no secure system keyring" in description
    assert store.set("openai", KEY) is False
    assert store.get("openai") == Secret(KEY)
    assert store.held_in_memory("openai")
    assert len(notices) == 1
    notice = notices[0]
    assert notice.category is NoticeCategory.SECRETS
    assert "this session only" in notice.text and "again next time" in notice.text
    assert KEY not in notice.text
    store.set("openai", KEY)  # told once per provider
    assert len(notices) == 1
    store.delete("openai")
    assert store.get("openai") is None
    # A fresh store (= next run) has forgotten it.
    assert SecretStore(backend=keyring.backends.fail.Keyring()).get("openai") is None


def test_plaintext_keyring_is_treated_as_insecure_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    plaintext = PlaintextKeyring()
    keyring.set_keyring(plaintext)
    try:
        notices: list[UserNotice] = []
        store = SecretStore(notify=notices.append)  # uses keyring.get_keyring()
        secure, description = store.backend_status()
        assert secure is False and "PlaintextKeyring" in description and "0.5" in description
        assert store.set("openai", KEY) is False
        assert store.get("openai") == Secret(KEY)
        assert len(notices) == 1
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())
    assert not Path(plaintext.file_path).exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_chainer_uses_only_its_secure_member() -> None:
    secure = MemoryKeyring()
    plaintext = PlaintextKeyring()

    class Chain:
        backends = [plaintext, secure]

    backend, description = choose_backend(Chain())
    assert backend is secure and "MemoryKeyring" in description


def test_backend_errors_never_carry_the_key(caplog: pytest.LogCaptureFixture) -> None:
    notices: list[UserNotice] = []
    store = SecretStore(backend=LeakyLockedKeyring(), notify=notices.append)
    with caplog.at_level(logging.DEBUG, logger="app.secrets"):
        assert store.set("openai", KEY) is False  # falls back to memory, raises nothing
        assert store.get("openai") == Secret(KEY)
        other = SecretStore(backend=LeakyLockedKeyring())
        assert other.get("openai") is None
    assert KEY not in caplog.text and "KeyringLocked" in caplog.text
    assert len(notices) == 1 and KEY not in notices[0].text
    assert "keyring refused it" in notices[0].text


def test_priority_error_counts_as_no_keyring() -> None:
    class Broken(MemoryKeyring):
        @property  # type: ignore[misc]
        def priority(self) -> float:  # type: ignore[override]
            raise RuntimeError("Unable to initialize SecretService: no bus")

    backend, description = choose_backend(Broken())
    assert backend is None and "no bus" in description


def test_importing_app_secrets_does_not_import_keyrings_alt() -> None:
    code = (
        "import sys, app.secrets, app.log; "
        "print(any(m.startswith('keyrings') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
        check=True,
    )
    assert out.stdout.strip() == "False"
    source = (Path(__file__).resolve().parents[3] / "app" / "secrets.py").read_text()
    assert "keyrings.alt" not in source.replace("keyrings.alt's", "")
