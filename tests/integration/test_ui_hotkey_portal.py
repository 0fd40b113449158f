"""The Wayland path: ``PortalBackend`` against a GlobalShortcuts portal on a private D-Bus.

The portal is a small fake speaking the real interface (CreateSession / BindShortcuts with
Request::Response, then Activated / Deactivated signals) on a private ``dbus-daemon``; the
backend under test is the real one, over a real bus.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    message_bus,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import open_dbus_connection

from app.harness.procs import private_env, spawn, wait_until
from ui.hotkey.base import INTERRUPT, PUSH_TO_TALK
from ui.hotkey.portal import (
    PORTAL_NAME,
    PORTAL_PATH,
    REQUEST_IFACE,
    SHORTCUTS_IFACE,
    PortalBackend,
)

pytestmark = pytest.mark.slow


class FakePortal:
    """Owns ``org.freedesktop.portal.Desktop`` and answers like xdg-desktop-portal does."""

    def __init__(self, address: str) -> None:
        self.conn = open_dbus_connection(bus=address)
        self.conn.send_and_get_reply(message_bus.RequestName(PORTAL_NAME), timeout=5)
        self.bound: list[tuple[str, dict[str, Any]]] = []
        self.session = ""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="fake-portal", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            if msg.header.message_type is MessageType.method_call:
                self._answer(msg)

    def _answer(self, msg: Any) -> None:
        member = msg.header.fields[HeaderFields.member]
        sender = msg.header.fields[HeaderFields.sender].lstrip(":").replace(".", "_")
        if member == "Get":
            self.conn.send(new_method_return(msg, "v", (("u", 1),)))
        elif member == "Register":
            self.conn.send(new_method_return(msg))
        elif member in ("CreateSession", "BindShortcuts"):
            options = msg.body[-1]
            request = f"{PORTAL_PATH}/request/{sender}/{options['handle_token'][1]}"
            self.conn.send(new_method_return(msg, "o", (request,)))
            if member == "CreateSession":
                token = options["session_handle_token"][1]
                self.session = f"{PORTAL_PATH}/session/{sender}/{token}"
                results = {"session_handle": ("s", self.session)}
            else:
                self.bound = [(sid, dict(props)) for sid, props in msg.body[1]]
                chosen = [
                    (sid, {"trigger_description": ("s", props["preferred_trigger"][1])})
                    for sid, props in self.bound
                ]
                results = {"shortcuts": ("a(sa{sv})", chosen)}
            reply = new_signal(
                DBusAddress(request, interface=REQUEST_IFACE), "Response", "ua{sv}", (0, results)
            )
            self.conn.send(reply)

    def key(self, member: str, shortcut: str) -> None:
        """Send Activated (press) or Deactivated (release) for ``shortcut``."""
        addr = DBusAddress(PORTAL_PATH, interface=SHORTCUTS_IFACE)
        body = (self.session, shortcut, 1234, {})
        self.conn.send(new_signal(addr, member, "osta{sv}", body))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.conn.close()


@pytest.fixture
def private_bus(tmp_path) -> Iterator[str]:
    proc = spawn(
        "dbus-daemon",
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        env=private_env(),
        stdout=subprocess.PIPE,
        log_path=tmp_path / "dbus.log",
    )
    try:
        assert proc.popen.stdout is not None
        address = proc.popen.stdout.readline().decode().strip()
        assert address.startswith("unix:"), proc.log_tail()
        yield address
    finally:
        proc.stop(timeout=3.0)


def test_portal_binds_shortcuts_and_delivers_press_and_release(private_bus):
    portal = FakePortal(private_bus)
    events: list[tuple[str, str, str]] = []
    backend = PortalBackend(bus=private_bus)
    try:
        assert backend.available()
        backend.start(
            {PUSH_TO_TALK: "F9", INTERRUPT: "ctrl+F10"},
            lambda a: events.append(("press", a, threading.current_thread().name)),
            lambda a: events.append(("release", a, threading.current_thread().name)),
        )
        assert backend.wait_bound(10), backend.error
        assert [sid for sid, _ in portal.bound] == [PUSH_TO_TALK, INTERRUPT]
        assert portal.bound[1][1]["preferred_trigger"] == ("s", "CTRL+F10")
        assert backend.bound == {PUSH_TO_TALK: "F9", INTERRUPT: "CTRL+F10"}
        portal.key("Activated", PUSH_TO_TALK)
        portal.key("Deactivated", PUSH_TO_TALK)
        portal.key("Activated", INTERRUPT)
        wait_until(lambda: len(events) >= 3, timeout=5, what="three shortcut signals")
        assert events == [
            ("press", PUSH_TO_TALK, "hotkey-portal"),
            ("release", PUSH_TO_TALK, "hotkey-portal"),
            ("press", INTERRUPT, "hotkey-portal"),
        ]
    finally:
        backend.stop()
        portal.close()


def test_a_bus_without_the_portal_is_reported_unavailable(private_bus):
    backend = PortalBackend(bus=private_bus)
    assert not backend.available()
