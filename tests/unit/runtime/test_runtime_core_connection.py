"""Core.test_connection against a real WebSocket server on 127.0.0.1 (the dialog's button)."""

from __future__ import annotations

import pytest

from app.runtime.core import Core
from app.secrets import SecretStore
from app.settings.store import SettingsStore
from tests.helpers.memory_keyring import MemoryKeyring
from tests.helpers.scripted_gemini import GeminiKnobs, GeminiScript
from tests.helpers.scripted_server import ScriptedServer


def _core_for(url: str, key: str) -> Core:
    store = SettingsStore(None)
    store.apply({"session.provider": "custom", "session.url": url})
    secrets = SecretStore(backend=MemoryKeyring())
    secrets.set("custom", key)
    return Core(store, secrets)


def test_test_connection_succeeds_and_sends_the_key_as_bearer() -> None:
    with ScriptedServer() as server:
        core = _core_for(server.url, "sk-test-0123456789abcdef")
        message = core.test_connection("custom", timeout=5.0)
        assert "Connected" in message
        assert server.headers[0]["Authorization"] == "Bearer sk-test-0123456789abcdef"


def test_test_connection_explains_a_rejected_key_without_revealing_it() -> None:
    with ScriptedServer(reject=lambda _index: 401) as server:
        core = _core_for(server.url, "sk-test-0123456789abcdef")
        with pytest.raises(ConnectionError) as caught:
            core.test_connection("custom", timeout=5.0)
        text = str(caught.value)
        assert "sk-test" not in text
        assert text  # a sentence for the user, from the shared failure classification


def test_test_connection_reports_an_unreachable_server() -> None:
    core = _core_for("ws://127.0.0.1:9/v1/realtime", "sk-test-0123456789abcdef")
    with pytest.raises(ConnectionError):
        core.test_connection("custom", timeout=2.0)


def test_audio_self_test_is_refused_before_the_engine_runs() -> None:
    core = _core_for("ws://127.0.0.1:9/v1/realtime", "k")
    with pytest.raises(RuntimeError, match="not running"):
        core.run_audio_self_test()


def _gemini_core(port: int) -> Core:
    store = SettingsStore(None)
    store.apply({"session.provider": "gemini", "session.url": f"ws://127.0.0.1:{port}/ws"})
    secrets = SecretStore(backend=MemoryKeyring())
    secrets.set("gemini", "AIzaTest0123456789abcdefghij")
    return Core(store, secrets)


def test_test_connection_speaks_gemini_setup_and_waits_for_setup_complete() -> None:
    with ScriptedServer(GeminiScript()) as server:
        message = _gemini_core(server.port).test_connection("gemini", timeout=5.0)
        assert "Connected to gemini" in message
        assert server.headers[0]["x-goog-api-key"] == "AIzaTest0123456789abcdefghij"


def test_test_connection_reports_a_gemini_key_refused_by_close_code() -> None:
    reason = "API key not valid. Please pass a valid API key."
    with ScriptedServer(GeminiScript(GeminiKnobs(refuse_setup=(1007, reason)))) as server:
        with pytest.raises(ConnectionError) as caught:
            _gemini_core(server.port).test_connection("gemini", timeout=5.0)
    assert "API key not valid" in str(caught.value)
    assert "AIzaTest" not in str(caught.value)
