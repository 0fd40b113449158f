"""The settings dialog: pages generated from the registry, edited as one draft, applied at once."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.settings import schema
from app.settings.schema import SettingError
from app.settings.snapshot import Settings
from ui.bridge import Bridge
from ui.settings.audio_page import AudioPage
from ui.settings.conversation_page import ConversationPage
from ui.settings.draft import Draft
from ui.settings.hotkeys_page import HotkeysPage
from ui.settings.keys_page import KeysPage
from ui.settings.page import SettingsPage

log = logging.getLogger("ui")

_SPECIAL_PAGES = {"audio": AudioPage, "session": ConversationPage, "hotkey": HotkeysPage}


def _tr(text: str) -> str:
    return QCoreApplication.translate("SettingsDialog", text)


class SettingsDialog(QDialog):
    """Every settings page over one :class:`Draft`; Apply/OK post ``ApplySettings`` once.

    Nothing reaches the core until the user applies; Cancel drops the draft. Invalid values are
    refused with a message naming each problem (a modal box, in direct response to Apply).

    Thread: GUI.

    Signals:
        sig_settings_applied(dict): the validated changes that were posted.
    """

    sig_settings_applied = Signal(dict)

    def __init__(self, bridge: Bridge, page: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle(_tr("VoxDesk settings"))
        self.setAccessibleName(_tr("Settings"))
        self.resize(820, 600)
        self.draft = Draft(_current_settings(bridge))
        self.page_list = QListWidget(self)
        self.page_list.setAccessibleName(_tr("Settings pages"))
        self.page_list.setMaximumWidth(180)
        self.stack = QStackedWidget(self)
        self.pages: dict[str, SettingsPage] = {}
        for section, _label in schema.SECTIONS:
            cls = _SPECIAL_PAGES.get(section)
            built = (
                cls(self.draft, bridge, self)
                if cls
                else SettingsPage(section, self.draft, bridge, self)
            )
            self._add_page(built)
            if section == "session":
                self._add_page(KeysPage(self.draft, bridge, self))
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        self.defaults_button = QPushButton(_tr("Restore page defaults"), self)
        self.defaults_button.setAccessibleName(_tr("Restore the defaults of this page"))
        self.buttons.addButton(self.defaults_button, QDialogButtonBox.ButtonRole.ResetRole)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.page_list.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.buttons.accepted.connect(self._on_ok_clicked)
        self.buttons.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        self.defaults_button.clicked.connect(self._on_defaults_clicked)
        self._on_draft_changed()
        self.show_page(page)

    @property
    def apply_button(self) -> QPushButton:
        """The Apply button (enabled while the draft has changes)."""
        return self.buttons.button(QDialogButtonBox.StandardButton.Apply)

    def _add_page(self, page: SettingsPage) -> None:
        self.pages[page.page_id] = page
        if not page.accessibleName():  # the scroll area takes focus; say which page it is
            page.setAccessibleName(_tr("%1 settings").replace("%1", page.title))
        self.page_list.addItem(page.title)
        self.stack.addWidget(page)
        page.sig_draft_changed.connect(self._on_draft_changed)

    def show_page(self, page_id: str) -> None:
        """Show the page with this id (``audio``, ``session``, ``keys``, …); "" for the first."""
        ids = list(self.pages)
        self.page_list.setCurrentRow(ids.index(page_id) if page_id in ids else 0)

    @property
    def current_page(self) -> SettingsPage:
        """The page shown."""
        page = self.stack.currentWidget()
        assert isinstance(page, SettingsPage)
        return page

    @Slot()
    def apply(self) -> bool:
        """Validate the whole draft and post it as one ``ApplySettings``; False if refused."""
        try:
            changes = self.draft.validated()
        except SettingError:
            problems = "\n".join(f"• {e.message}" for e in self.draft.errors())
            self.ask_refused(self, problems)
            return False
        if changes:
            self.bridge.apply_settings(dict(changes))
            self.draft.commit()
            self.sig_settings_applied.emit(dict(changes))
        for page in self.pages.values():
            page.refresh_marks()
        self._on_draft_changed()
        return True

    @classmethod
    def ask_refused(cls, parent: QWidget, problems: str) -> None:
        """Tell the user why the draft was not applied (tests replace this)."""
        QMessageBox.warning(
            parent, _tr("Settings not applied"), _tr("Please fix these first:") + "\n" + problems
        )

    @Slot()
    def _on_ok_clicked(self) -> None:
        if self.apply():
            self.accept()

    @Slot()
    def _on_defaults_clicked(self) -> None:
        self.current_page.restore_defaults()

    @Slot()
    def _on_draft_changed(self) -> None:
        self.apply_button.setEnabled(bool(self.draft.changes()))


def _current_settings(bridge: Bridge) -> Settings:
    store = getattr(bridge.core, "settings_store", None)
    current = getattr(store, "current", None)
    if isinstance(current, Settings):
        return current
    log.warning("no settings store: the dialog starts from the defaults")
    return Settings.defaults()
