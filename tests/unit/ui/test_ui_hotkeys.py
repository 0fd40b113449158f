"""Hotkey parsing, backend choice, the dispatcher, and the X11 backend's key matching."""

from __future__ import annotations

import pytest

from ui.hotkey.base import INTERRUPT, PUSH_TO_TALK, HotkeyDispatcher, HotkeyUnavailable, KeySpec
from ui.hotkey.factory import HotkeyService, choose_backend
from ui.hotkey.none import NoHotkeyBackend
from ui.hotkey.portal import portal_trigger
from ui.hotkey.x11 import PynputBackend

pytestmark = pytest.mark.gui


def test_key_specs_parse_modifiers_and_key():
    assert KeySpec.parse("F9") == KeySpec(frozenset(), "f9")
    assert KeySpec.parse("Ctrl+Shift+space") == KeySpec(frozenset({"ctrl", "shift"}), "space")
    with pytest.raises(ValueError):
        KeySpec.parse("ctrl+")
    with pytest.raises(ValueError):
        KeySpec.parse("hyper+a")


def test_portal_trigger_syntax():
    assert portal_trigger("ctrl+shift+F9") == "CTRL+SHIFT+F9"
    assert portal_trigger("super+a") == "LOGO+a"


def test_no_display_means_the_none_backend_with_a_clear_notice():
    backend = choose_backend({}, platform="linux")
    assert isinstance(backend, NoHotkeyBackend)
    assert "hold Space while the VoxDesk window has focus" in backend.describe()


def test_x11_display_chooses_pynput():
    assert isinstance(choose_backend({"DISPLAY": ":99"}, platform="linux"), PynputBackend)


def test_wayland_without_portal_falls_back_to_none(monkeypatch, tmp_path):
    # A bus address nobody listens on: the portal probe fails fast and we fall back.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    backend = choose_backend({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    assert isinstance(backend, NoHotkeyBackend)
    assert "GlobalShortcuts" in backend.describe()


def test_pynput_import_without_x_is_reported_not_raised(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(HotkeyUnavailable, match="no X11 display"):
        PynputBackend.load()


def test_service_falls_back_to_none_when_the_backend_is_unavailable():
    posted: list[str] = []
    service = HotkeyService(
        HotkeyDispatcher(lambda: posted.append("p"), lambda: posted.append("r"), lambda: None),
        backend_factory=PynputBackend,
    )
    status = service.apply(True, "F9", "F10")
    assert isinstance(service.backend, NoHotkeyBackend)
    assert "only the in-window shortcut works" in status
    assert service.apply(False, "F9", "F10") == "Global hotkeys are turned off in the settings."


def test_dispatcher_ignores_repeats_and_stray_releases():
    posted: list[str] = []
    d = HotkeyDispatcher(
        lambda: posted.append("press"),
        lambda: posted.append("release"),
        lambda: posted.append("interrupt"),
    )
    d.on_release(PUSH_TO_TALK)
    d.on_press(PUSH_TO_TALK)
    d.on_press(PUSH_TO_TALK)
    d.on_release(PUSH_TO_TALK)
    d.on_press(INTERRUPT)
    d.on_press(INTERRUPT)
    d.on_release(INTERRUPT)
    d.on_press(INTERRUPT)
    assert posted == ["press", "release", "interrupt", "interrupt"]


class _Key:
    """Stands in for pynput key objects in the matching logic (no X server in unit tests)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _backend_with(bindings) -> tuple[PynputBackend, list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []
    b = PynputBackend()
    b._on_press = lambda a: events.append(("press", a))
    b._on_release = lambda a: events.append(("release", a))
    b._mods = {_Key("ctrl"): "ctrl"}
    b._bindings = bindings
    return b, events


def test_x11_matching_needs_the_modifiers_and_ignores_auto_repeat():
    b, events = _backend_with(
        [(PUSH_TO_TALK, frozenset(), _Key("f9")), (INTERRUPT, frozenset({_Key("ctrl")}), _Key("i"))]
    )
    for _ in range(5):
        b._handle_press(_Key("f9"))  # X auto-repeat: many presses, one release
    b._handle_release(_Key("f9"))
    b._handle_press(_Key("i"))  # no ctrl held: not the interrupt key
    b._handle_release(_Key("i"))
    b._handle_press(_Key("ctrl"))
    b._handle_press(_Key("i"))
    b._handle_release(_Key("i"))
    b._handle_release(_Key("ctrl"))
    assert events == [
        ("press", PUSH_TO_TALK),
        ("release", PUSH_TO_TALK),
        ("press", INTERRUPT),
        ("release", INTERRUPT),
    ]


def test_x11_callback_errors_do_not_escape_into_pynput():
    b, _ = _backend_with([(PUSH_TO_TALK, frozenset(), _Key("f9"))])

    def boom(action: str) -> None:
        raise RuntimeError("core gone")

    b._on_press = boom
    b._handle_press(_Key("f9"))  # logged, not raised


def test_x11_stop_survives_a_display_that_is_already_gone():
    b, _ = _backend_with([(PUSH_TO_TALK, frozenset(), _Key("f9"))])

    class DeadListener:
        def stop(self) -> None:
            raise ConnectionResetError("Display connection closed by server")

    b._listener = DeadListener()
    b.stop()  # logged, not raised: shutdown goes on after a logout or a killed X server
    assert b._listener is None
