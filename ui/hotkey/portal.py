"""Global hotkeys on Wayland through the XDG ``GlobalShortcuts`` portal.

Press is the portal's ``Activated`` signal and release its ``Deactivated`` signal, so
push-to-talk works. The desktop shows its own dialog when shortcuts are bound; the user picks the
final trigger there (our key is only the preferred one).

The D-Bus conversation runs with jeepney (pure Python; installed with ``keyring`` through
SecretStorage) on the backend's own thread: PySide6's QtDBus cannot build the ``a(sa{sv})``
argument ``BindShortcuts`` needs, because its ``QDBusArgument`` has no streaming operators in
Python.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QCoreApplication

from ui.hotkey.base import HotkeyUnavailable, KeyCallback, KeySpec

log = logging.getLogger("ui.hotkey")

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_IFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_IFACE = "org.freedesktop.portal.Request"
REGISTRY_IFACE = "org.freedesktop.host.portal.Registry"
APP_ID = "voxdesk"
CALL_TIMEOUT_S = 2.0
BIND_TIMEOUT_S = 120.0  # the user answers the desktop's dialog
POLL_S = 0.25

_DESCRIPTIONS = {"push_to_talk": "Push to talk (hold)", "interrupt": "Interrupt the assistant"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("Hotkeys", text)


def portal_trigger(spec: str) -> str:
    """The portal's trigger syntax (``CTRL+SHIFT+F9``-style, per the shortcuts spec)."""
    parsed = KeySpec.parse(spec)
    names = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "super": "LOGO"}
    key = parsed.key.upper() if len(parsed.key) > 1 else parsed.key
    return "+".join([*(names[m] for m in sorted(parsed.modifiers)), key])


class PortalBackend:
    """Binds shortcuts through the portal and listens for Activated/Deactivated on its thread.

    Thread: ``start``/``stop`` from the GUI thread; callbacks run on the ``hotkey-portal`` thread.

    Args:
        bus: ``"SESSION"`` or a bus address (tests use a private bus).
    """

    name = "portal"

    def __init__(self, bus: str = "SESSION") -> None:
        self._bus = bus
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.session_handle: str | None = None
        self.bound: dict[str, str] = {}
        self.error: str | None = None
        self._ready = threading.Event()

    def available(self) -> bool:
        """Whether a portal with the GlobalShortcuts interface answers on the bus."""
        try:
            from jeepney import DBusAddress, Properties  # type: ignore[import-untyped]
            from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

            with open_dbus_connection(bus=self._bus) as conn:
                addr = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=SHORTCUTS_IFACE)
                reply = conn.send_and_get_reply(
                    Properties(addr).get("version"), timeout=CALL_TIMEOUT_S
                )
        except Exception as exc:  # no bus, no portal, or no such interface
            log.info("GlobalShortcuts portal not available: %s", exc)
            return False
        return bool(reply.header.message_type.name == "method_return")

    def start(
        self, bindings: Mapping[str, str], on_press: KeyCallback, on_release: KeyCallback
    ) -> None:
        """Bind ``bindings`` in the background and deliver presses and releases.

        Raises:
            HotkeyUnavailable: there is no GlobalShortcuts portal on this desktop.
        """
        if not self.available():
            raise HotkeyUnavailable(_tr("this desktop offers no GlobalShortcuts portal"))
        self.stop()
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(dict(bindings), on_press, on_release),
            name="hotkey-portal",
            daemon=True,
        )
        self._thread.start()

    def wait_bound(self, timeout: float) -> bool:
        """Wait until the shortcuts are bound and listened for (or failed); True when bound."""
        self._ready.wait(timeout)
        return self.session_handle is not None and not self.error

    def stop(self) -> None:
        """Stop listening and join the thread (bounded)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(POLL_S * 8)

    def describe(self) -> str:
        """What works with this backend."""
        if self.error:
            return _tr("The desktop's shortcut service refused: %1").replace("%1", self.error)
        return _tr(
            "Global hotkeys go through your desktop's shortcut settings (it may ask you to "
            "confirm the keys)."
        )

    # ---- the backend thread -----------------------------------------------------------------
    def _run(
        self, bindings: dict[str, str], on_press: KeyCallback, on_release: KeyCallback
    ) -> None:
        from jeepney.io.blocking import open_dbus_connection

        try:
            with open_dbus_connection(bus=self._bus) as conn:
                self._register(conn)
                self.session_handle = self._create_session(conn)
                self.bound = self._bind(conn, self.session_handle, bindings)
                self._listen(conn, on_press, on_release)
        except Exception as exc:  # reported on the Hotkeys page; the in-window key still works
            self.error = str(exc) or type(exc).__name__
            log.warning("GlobalShortcuts portal failed: %s", self.error)
        finally:
            self._ready.set()

    def _register(self, conn: Any) -> None:
        from jeepney import DBusAddress, new_method_call

        addr = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=REGISTRY_IFACE)
        try:
            conn.send_and_get_reply(
                new_method_call(addr, "Register", "sa{sv}", (APP_ID, {})), timeout=CALL_TIMEOUT_S
            )
        except Exception as exc:  # older portals have no registry; sandboxed apps need none
            log.debug("portal registry: %s", exc)

    def _request(
        self,
        conn: Any,
        method: str,
        signature: str,
        body: tuple[Any, ...],
        token: str,
        timeout: float,
    ) -> dict[str, Any]:
        from jeepney import (
            DBusAddress,
            MatchRule,
            message_bus,
            new_method_call,
        )

        sender = conn.unique_name.lstrip(":").replace(".", "_")
        request_path = f"{PORTAL_PATH}/request/{sender}/{token}"
        rule = MatchRule(
            type="signal", interface=REQUEST_IFACE, member="Response", path=request_path
        )
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        addr = DBusAddress(PORTAL_PATH, bus_name=PORTAL_NAME, interface=SHORTCUTS_IFACE)
        with conn.filter(rule) as queue:
            reply = conn.send_and_get_reply(
                new_method_call(addr, method, signature, body), timeout=CALL_TIMEOUT_S
            )
            if reply.header.message_type.name == "error":
                raise RuntimeError(f"{method}: {reply.body[0] if reply.body else 'error'}")
            signal = conn.recv_until_filtered(queue, timeout=timeout)
        code, results = signal.body
        if code != 0:
            raise RuntimeError(f"{method} was {'cancelled' if code == 1 else 'refused'}")
        return {k: v[1] if isinstance(v, tuple) else v for k, v in results.items()}

    def _create_session(self, conn: Any) -> str:
        token = "voxdesk_" + secrets.token_hex(4)
        options = {"handle_token": ("s", token), "session_handle_token": ("s", token + "_s")}
        results = self._request(
            conn, "CreateSession", "a{sv}", (options,), token, CALL_TIMEOUT_S * 5
        )
        return str(results["session_handle"])

    def _bind(self, conn: Any, session: str, bindings: dict[str, str]) -> dict[str, str]:
        token = "voxdesk_" + secrets.token_hex(4)
        shortcuts = [
            (
                action,
                {
                    "description": ("s", _tr(_DESCRIPTIONS.get(action, action))),
                    "preferred_trigger": ("s", portal_trigger(spec)),
                },
            )
            for action, spec in bindings.items()
        ]
        body = (session, shortcuts, "", {"handle_token": ("s", token)})
        results = self._request(
            conn, "BindShortcuts", "oa(sa{sv})sa{sv}", body, token, BIND_TIMEOUT_S
        )
        bound: dict[str, str] = {}
        for shortcut_id, props in results.get("shortcuts", []):
            trigger = props.get("trigger_description", ("s", ""))
            bound[shortcut_id] = trigger[1] if isinstance(trigger, tuple) else str(trigger)
        return bound

    def _listen(self, conn: Any, on_press: KeyCallback, on_release: KeyCallback) -> None:
        from jeepney import MatchRule, message_bus

        rule = MatchRule(type="signal", interface=SHORTCUTS_IFACE, path=PORTAL_PATH)
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT_S)
        self._ready.set()  # bound and subscribed: presses from now on are delivered
        handlers: dict[str, Callable[[str], None]] = {
            "Activated": on_press,
            "Deactivated": on_release,
        }
        with conn.filter(rule) as queue:
            while not self._stop.is_set():
                try:
                    msg = conn.recv_until_filtered(queue, timeout=POLL_S)
                except TimeoutError:
                    continue
                member = msg.header.fields.get(_member_field())
                handler = handlers.get(str(member))
                if handler is None or not msg.body or msg.body[0] != self.session_handle:
                    continue
                try:
                    handler(str(msg.body[1]))
                except Exception:  # a failing callback must not end the listener
                    log.exception("hotkey callback failed")


def _member_field() -> Any:
    from jeepney import HeaderFields

    return HeaderFields.member
