"""Editors for one setting each, chosen from its declared type, range and choices."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.settings.schema import Setting

_LONG_TEXT = {"session.instructions"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("SettingsFields", text)


class FieldEditor(QWidget):
    """Wraps the concrete editor of one setting behind ``value()``/``set_value()``.

    Thread: GUI.

    Signals:
        sig_value_changed(str, object): the user edited the value (key, new value).
    """

    sig_value_changed = Signal(str, object)

    def __init__(self, setting: Setting, editor: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setting = setting
        self.editor = editor
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(editor, 1)
        editor.setAccessibleName(_tr(setting.label))
        editor.setAccessibleDescription(_tr(setting.help))
        editor.setToolTip(_tr(setting.help))
        self.setFocusProxy(editor)
        self._loading = False
        self._connect()

    def value(self) -> object:
        """The value the editor shows, in the setting's type."""
        e = self.editor
        if isinstance(e, QCheckBox):
            return e.isChecked()
        if isinstance(e, QComboBox):
            data = e.currentData()
            return e.currentText() if data is None else data
        if isinstance(e, QSpinBox):
            return e.value()
        if isinstance(e, QDoubleSpinBox):
            return round(e.value(), e.decimals())
        if isinstance(e, QPlainTextEdit):
            return e.toPlainText()
        if isinstance(e, QLineEdit):
            return e.text()
        raise TypeError(f"no value for {type(e).__name__}")

    def set_value(self, value: object) -> None:
        """Show ``value`` without emitting ``sig_value_changed``."""
        self._loading = True
        try:
            e = self.editor
            if isinstance(e, QCheckBox):
                e.setChecked(bool(value))
            elif isinstance(e, QComboBox):
                index = e.findData(value)
                if index < 0 and e.isEditable():
                    e.setEditText(str(value))
                else:
                    e.setCurrentIndex(max(0, index))
            elif isinstance(e, QSpinBox):
                e.setValue(int(value))  # type: ignore[call-overload]
            elif isinstance(e, QDoubleSpinBox):
                e.setValue(float(value))  # type: ignore[arg-type]
            elif isinstance(e, QPlainTextEdit):
                e.setPlainText(str(value))
            elif isinstance(e, QLineEdit):
                e.setText(str(value))
        finally:
            self._loading = False

    def _connect(self) -> None:
        e = self.editor
        if isinstance(e, QCheckBox):
            e.toggled.connect(self._on_edited)
        elif isinstance(e, QComboBox):
            e.currentIndexChanged.connect(self._on_edited)
            if e.isEditable():
                e.editTextChanged.connect(self._on_edited)
        elif isinstance(e, QSpinBox | QDoubleSpinBox):
            e.valueChanged.connect(self._on_edited)
        elif isinstance(e, QPlainTextEdit):
            e.textChanged.connect(self._on_edited)
        elif isinstance(e, QLineEdit):
            e.textEdited.connect(self._on_edited)

    @Slot()
    def _on_edited(self, *_: object) -> None:
        if not self._loading:
            self.sig_value_changed.emit(self.setting.key, self.value())


def make_editor(setting: Setting, parent: QWidget | None = None) -> FieldEditor:
    """Build the editor a setting's type, range and choices call for."""
    editor: QWidget
    if setting.type is bool:
        editor = QCheckBox(_tr(setting.label), parent)
    elif setting.choices:
        combo = QComboBox(parent)
        for value, label in setting.choices:
            combo.addItem(_tr(label), value)
        editor = combo
    elif setting.type is int:
        spin = QSpinBox(parent)
        spin.setRange(
            int(setting.minimum) if setting.minimum is not None else -(2**31),
            int(setting.maximum) if setting.maximum is not None else 2**31 - 1,
        )
        spin.setSingleStep(int(setting.step or 1))
        if setting.unit:
            spin.setSuffix(f" {setting.unit}")
        editor = spin
    elif setting.type is float:
        dspin = QDoubleSpinBox(parent)
        dspin.setDecimals(2)
        dspin.setRange(
            float(setting.minimum) if setting.minimum is not None else -1e9,
            float(setting.maximum) if setting.maximum is not None else 1e9,
        )
        dspin.setSingleStep(float(setting.step or 0.05))
        if setting.unit:
            dspin.setSuffix(f" {setting.unit}")
        editor = dspin
    elif setting.key in _LONG_TEXT:
        text = QPlainTextEdit(parent)
        text.setTabChangesFocus(True)
        text.setFixedHeight(90)
        editor = text
    else:
        editor = QLineEdit(parent)
    field = FieldEditor(setting, editor, parent)
    field.set_value(setting.default)
    return field
