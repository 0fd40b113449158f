"""The Keys page: one API key per provider, kept in the OS keyring, with "test connection"."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.runtime.commands import Reconnect
from ui.bridge import Bridge
from ui.settings.draft import Draft
from ui.settings.page import SettingsPage

log = logging.getLogger("ui")

PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai", "OpenAI"),
    ("gemini", "Google Gemini Live"),
    ("custom", "Custom server"),
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("KeysPage", text)


class ProviderKeyRow(QGroupBox):
    """Key entry, save, delete and test for one provider. Thread: GUI.

    Signals:
        sig_test_finished(str): the connection test's result (from its worker thread, queued).
    """

    sig_test_finished = Signal(str)

    def __init__(self, provider: str, label: str, bridge: Bridge, parent: QWidget | None) -> None:
        super().__init__(_tr(label), parent)
        self.provider = provider
        self.bridge = bridge
        self.secrets = bridge.core.secrets
        form = QFormLayout(self)
        self.key_edit = QLineEdit(self)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText(_tr("Paste the API key"))
        self.key_edit.setAccessibleName(_tr("%1 API key").replace("%1", _tr(label)))
        form.addRow(_tr("API key"), self.key_edit)
        buttons = QHBoxLayout()
        self.save_button = QPushButton(_tr("Save key"), self)
        self.delete_button = QPushButton(_tr("Delete key"), self)
        self.test_button = QPushButton(_tr("Test connection"), self)
        for button in (self.save_button, self.delete_button, self.test_button):
            button.setAccessibleName(f"{button.text()} ({_tr(label)})")
            buttons.addWidget(button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_tr("Key status"))
        form.addRow(self.status)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.sig_test_finished.connect(self._on_test_finished)
        if self.bridge.optional("test_connection") is None:
            self.test_button.setEnabled(False)
            self.test_button.setToolTip(_tr("Not available: the session engine is not running."))
        else:
            self.test_button.clicked.connect(self._on_test_clicked)
        if self.secrets is None:
            self.setEnabled(False)
            self.setToolTip(_tr("Not available: no secret store in this session."))
        self.refresh()

    def refresh(self) -> None:
        """Show whether a key is stored (never the key itself)."""
        if self.secrets is None:
            return
        try:
            stored = self.secrets.get(self.provider) is not None
        except Exception as exc:  # a locked or broken keyring: say so, keep the dialog usable
            self.status.setText(_tr("Could not read the keyring: %1").replace("%1", str(exc)))
            return
        held = getattr(self.secrets, "held_in_memory", None)
        if stored and held is not None and held(self.provider):
            self.status.setText(_tr("A key is held in memory for this run only."))
        else:
            self.status.setText(_tr("A key is stored.") if stored else _tr("No key stored."))
        self.delete_button.setEnabled(stored)

    @Slot()
    def _on_save_clicked(self) -> None:
        value = self.key_edit.text().strip()
        if not value:
            self.status.setText(_tr("Type or paste a key first."))
            return
        try:
            self.secrets.set(self.provider, value)
        except Exception as exc:
            self.status.setText(
                _tr("Could not store the key: %1").replace("%1", type(exc).__name__)
            )
            return
        self.key_edit.clear()
        self.refresh()
        # A session that gave up on a rejected key tries again with the new one.
        self.bridge.post(Reconnect())

    @Slot()
    def _on_delete_clicked(self) -> None:
        try:
            self.secrets.delete(self.provider)
        except Exception as exc:
            self.status.setText(
                _tr("Could not delete the key: %1").replace("%1", type(exc).__name__)
            )
            return
        self.refresh()

    @Slot()
    def _on_test_clicked(self) -> None:
        test = self.bridge.optional("test_connection")
        if test is None:
            return
        self.test_button.setEnabled(False)
        self.status.setText(_tr("Testing…"))
        provider = self.provider

        def work() -> None:
            try:
                result = test(provider)
                text = str(result) if result else _tr("Connected.")
            except Exception as exc:  # shown to the user; the message carries no key
                text = _tr("Connection failed: %1").replace("%1", str(exc))
            self.sig_test_finished.emit(text)

        threading.Thread(target=work, name=f"test-connection-{provider}", daemon=True).start()

    @Slot(str)
    def _on_test_finished(self, text: str) -> None:
        self.test_button.setEnabled(True)
        self.status.setText(text)


class KeysPage(SettingsPage):
    """API keys per provider, stored through the core's ``SecretStore``. Thread: GUI."""

    page_id = "keys"

    def __init__(self, draft: Draft, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("", draft, bridge, parent)
        self.title = _tr("Keys")

    def add_extras(self, layout: QVBoxLayout) -> None:
        """Add the keyring status and one row per provider."""
        self.backend_label = QLabel(self)
        self.backend_label.setWordWrap(True)
        self.backend_label.setAccessibleName(_tr("Where keys are kept"))
        layout.addWidget(self.backend_label)
        self.rows = [ProviderKeyRow(p, label, self.bridge, self) for p, label in PROVIDERS]
        for row in self.rows:
            layout.addWidget(row)
        self._show_backend()

    def _show_backend(self) -> None:
        secrets = self.bridge.core.secrets
        if secrets is None:
            self.backend_label.setText(_tr("Keys cannot be stored in this session."))
            return
        try:
            secure, description = secrets.backend_status()
        except Exception as exc:
            secure, description = False, str(exc)
        if secure:
            self.backend_label.setText(
                _tr("Keys are kept in your system keyring (%1).").replace("%1", description)
            )
        else:
            self.backend_label.setText(
                _tr(
                    "No secure keyring is available (%1). A key you enter is held in memory for "
                    "this run only and will be asked for again next time."
                ).replace("%1", description)
            )
            self.backend_label.setStyleSheet("color: #b45309")
