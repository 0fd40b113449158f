"""The Conversation page: provider, model, voice, instructions, turn mode, memory."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.bridge import Bridge
from ui.settings.draft import Draft
from ui.settings.page import SettingsPage

log = logging.getLogger("ui")


def _tr(text: str) -> str:
    return QCoreApplication.translate("ConversationPage", text)


class ConversationPage(SettingsPage):
    """Conversation settings plus the assistant's memory (view, add, edit, forget).

    Memory edits act at once on the facade's ``memory`` (they are data, not settings). Without
    a memory the group is disabled with a tooltip saying why. Thread: GUI.
    """

    page_id = "session"

    def __init__(self, draft: Draft, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("session", draft, bridge, parent)

    def add_extras(self, layout: QVBoxLayout) -> None:
        """Add the memory group."""
        self.memory: Any = self.bridge.optional("memory")
        box = QGroupBox(_tr("What the assistant remembers about you"), self)
        inner = QVBoxLayout(box)
        self.facts_list = QListWidget(box)
        self.facts_list.setAccessibleName(_tr("Remembered facts"))
        self.facts_list.setMaximumHeight(140)
        inner.addWidget(self.facts_list)
        buttons = QHBoxLayout()
        self.add_fact_button = QPushButton(_tr("Add…"), box)
        self.edit_fact_button = QPushButton(_tr("Edit…"), box)
        self.forget_fact_button = QPushButton(_tr("Forget"), box)
        for button in (self.add_fact_button, self.edit_fact_button, self.forget_fact_button):
            button.setAccessibleName(button.text().rstrip("…") + " " + _tr("fact"))
            buttons.addWidget(button)
        buttons.addStretch(1)
        inner.addLayout(buttons)
        if self.memory is None:
            box.setEnabled(False)
            box.setToolTip(_tr("Not available: memory is kept by the conversation engine."))
            inner.addWidget(QLabel(_tr("Memory is not available in this session."), box))
        else:
            self.add_fact_button.clicked.connect(self._on_add_clicked)
            self.edit_fact_button.clicked.connect(self._on_edit_clicked)
            self.forget_fact_button.clicked.connect(self._on_forget_clicked)
            self.reload_facts()
        layout.addWidget(box)

    def reload_facts(self) -> None:
        """Show the memory's facts."""
        self.facts_list.clear()
        if self.memory is None:
            return
        try:
            facts = list(self.memory.facts())
        except Exception as exc:  # the store may be locked by the session for a moment
            log.warning("could not read memory: %s", exc)
            return
        for fact in facts:
            item = QListWidgetItem(str(getattr(fact, "text", fact)))
            item.setData(Qt.ItemDataRole.UserRole, getattr(fact, "fact_id", str(fact)))
            self.facts_list.addItem(item)

    @Slot()
    def _on_add_clicked(self) -> None:
        text, ok = QInputDialog.getText(self, _tr("Remember"), _tr("Fact to remember:"))
        if ok and text.strip():
            self.memory.remember(text.strip())
            self.reload_facts()

    @Slot()
    def _on_edit_clicked(self) -> None:
        item = self.facts_list.currentItem()
        if item is None:
            return
        text, ok = QInputDialog.getText(self, _tr("Edit fact"), _tr("Fact:"), text=item.text())
        if ok and text.strip() and text.strip() != item.text():
            self.memory.forget(item.data(Qt.ItemDataRole.UserRole))
            self.memory.remember(text.strip())
            self.reload_facts()

    @Slot()
    def _on_forget_clicked(self) -> None:
        item = self.facts_list.currentItem()
        if item is not None:
            self.memory.forget(item.data(Qt.ItemDataRole.UserRole))
            self.reload_facts()
