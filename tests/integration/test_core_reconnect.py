"""The core recovers from a rejected key without a restart: Reconnect after the key is fixed."""

from __future__ import annotations

from pathlib import Path

from app.audio.fake_backend import FakeAudioBackend
from app.events import AssistantState, NoticeCategory, UserNotice
from app.runtime.commands import Reconnect
from app.runtime.core import Core
from app.secrets import SecretStore
from app.settings.store import SettingsStore
from tests.helpers.memory_keyring import MemoryKeyring
from tests.helpers.scripted_server import ScriptedServer, wait_until


def test_a_rejected_key_fixed_in_settings_reconnects_without_a_restart(tmp_path: Path) -> None:
    good = "sk-good-0123456789abcdef"

    def reject(index: int) -> int | None:
        return None if headers[index].get("Authorization") == f"Bearer {good}" else 401

    with ScriptedServer(reject=reject) as server:
        headers = server.headers
        store = SettingsStore(None)
        store.apply({"session.provider": "custom", "session.url": server.url})
        secrets = SecretStore(backend=MemoryKeyring())
        secrets.set("custom", "sk-bad-0123456789abcdef")
        notices: list[UserNotice] = []
        core = Core(
            store, secrets, audio_backend=FakeAudioBackend(paced=True), data_dir=tmp_path / "d"
        )
        core.subscribe(lambda e: notices.append(e) if isinstance(e, UserNotice) else None)
        core.start()
        try:
            assert core.driver is not None
            wait_until(lambda: core.driver.state is AssistantState.FAILED, 10, "failed")
            assert any(n.category is NoticeCategory.AUTHENTICATION for n in notices)
            secrets.set("custom", good)
            core.submit(Reconnect())
            wait_until(lambda: core.driver.state is AssistantState.LISTENING, 10, "listening")
            assert server.attempts == 2
        finally:
            core.stop()


def test_reconnect_is_ignored_while_the_session_is_healthy(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        store = SettingsStore(None)
        store.apply({"session.provider": "custom", "session.url": server.url})
        core = Core(
            store,
            SecretStore(backend=MemoryKeyring()),
            audio_backend=FakeAudioBackend(paced=True),
            data_dir=tmp_path / "d",
        )
        core.start()
        try:
            assert core.driver is not None
            wait_until(lambda: core.driver.state is AssistantState.LISTENING, 10, "listening")
            before = core.driver
            core.submit(Reconnect())
            assert core.driver is before and server.attempts == 1
        finally:
            core.stop()
