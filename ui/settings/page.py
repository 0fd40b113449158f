"""A settings page generated from one registry section; special pages subclass it."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.settings import schema
from app.settings.schema import Setting
from ui.bridge import Bridge
from ui.settings.draft import Draft
from ui.settings.fields import FieldEditor, make_editor


def _tr(text: str) -> str:
    return QCoreApplication.translate("SettingsPage", text)


class SettingsPage(QScrollArea):
    """Edits the settings of one section into the shared :class:`Draft`.

    Each changed setting is labelled with when it takes effect (``Applies.label``). Subclasses
    override :meth:`custom_editor` for special editors and :meth:`add_extras` for extra controls.

    Thread: GUI.

    Signals:
        sig_draft_changed(): an edit changed the draft.
    """

    sig_draft_changed = Signal()

    page_id = ""

    def __init__(
        self, section: str, draft: Draft, bridge: Bridge, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.section = section
        self.page_id = self.page_id or section
        self.title = _tr(schema.section_label(section)) if section else ""
        self.draft = draft
        self.bridge = bridge
        self.fields: dict[str, FieldEditor] = {}
        self.applies_labels: dict[str, QLabel] = {}
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget(self)
        self.body_layout = QVBoxLayout(body)
        settings = schema.in_section(section) if section else ()
        basic = [s for s in settings if not s.advanced]
        advanced = [s for s in settings if s.advanced]
        if basic:
            self.body_layout.addLayout(self._form(basic, body))
        if advanced:
            box = QGroupBox(_tr("Advanced"), body)
            box.setLayout(self._form(advanced, box))
            self.body_layout.addWidget(box)
        self.add_extras(self.body_layout)
        self.body_layout.addStretch(1)
        self.setWidget(body)
        self.load()

    @property
    def keys(self) -> tuple[str, ...]:
        """The setting keys this page edits."""
        return tuple(self.fields)

    def custom_editor(self, setting: Setting, parent: QWidget) -> FieldEditor | None:
        """A special editor for ``setting``, or None for the generated one."""
        return None

    def add_extras(self, layout: QVBoxLayout) -> None:
        """Add controls beyond the generated fields (test buttons, lists)."""

    def _form(self, settings: list[Setting], parent: QWidget) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for setting in settings:
            field = self.custom_editor(setting, parent) or make_editor(setting, parent)
            field.sig_value_changed.connect(self._on_field_value_changed)
            applies = QLabel("", parent)
            applies.setStyleSheet("color: #b45309; font-size: 9pt")
            applies.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            row = QHBoxLayout()
            row.addWidget(field, 1)
            row.addWidget(applies)
            label = QLabel(_tr(setting.label) if setting.type is not bool else "", parent)
            label.setBuddy(field.editor)
            label.setToolTip(_tr(setting.help))
            form.addRow(label, row)
            self.fields[setting.key] = field
            self.applies_labels[setting.key] = applies
        return form

    def load(self) -> None:
        """Show the draft's values."""
        for key, field in self.fields.items():
            field.set_value(self.draft.value(key))
        self.refresh_marks()

    def restore_defaults(self) -> None:
        """Put this page's registry defaults into the draft."""
        for key in self.fields:
            self.draft.set(key, schema.get(key).default)
        self.load()
        self.sig_draft_changed.emit()

    def refresh_marks(self) -> None:
        """Label each changed setting with when the change takes effect."""
        for key, label in self.applies_labels.items():
            changed = self.draft.is_changed(key)
            label.setText("● " + _tr(schema.get(key).applies.label) if changed else "")
            label.setAccessibleName(label.text())

    @Slot(str, object)
    def _on_field_value_changed(self, key: str, value: object) -> None:
        self.draft.set(key, value)
        self.refresh_marks()
        self.sig_draft_changed.emit()
