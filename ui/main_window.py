"""The main window: transcript, talk controls, state, meters, latency, notices."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.events import (
    AssistantState,
    ConnectionChanged,
    ConnectionState,
    ModelLoadProgress,
    NoticeCategory,
    SessionStateChanged,
)
from app.runtime.commands import Reconnect
from ui.bridge import Bridge
from ui.notices import NoticePresenter
from ui.telemetry import read_levels
from ui.widgets.banner import Banner
from ui.widgets.echo_readout import EchoReadout
from ui.widgets.latency_meter import LatencyMeter
from ui.widgets.level_meter import LevelMeter
from ui.widgets.ptt_button import PttButton
from ui.widgets.state_badge import StateBadge
from ui.widgets.transcript_view import TranscriptView

log = logging.getLogger("ui")

TELEMETRY_INTERVAL_MS = 33
INTERRUPTIBLE = {AssistantState.ASSISTANT_SPEAKING, AssistantState.TOOL_RUNNING}
_CONNECTION_COLOUR = {
    ConnectionState.CONNECTED: "#16a34a",
    ConnectionState.CONNECTING: "#d97706",
    ConnectionState.RECONNECTING: "#d97706",
    ConnectionState.DISCONNECTED: "#6b7280",
    ConnectionState.FAILED: "#dc2626",
}
# Focused widgets that keep Space for themselves (typing, toggling, opening lists).
_SPACE_OWNERS = (QLineEdit, QPlainTextEdit, QAbstractButton, QComboBox, QAbstractSpinBox)


def _tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


class MainWindow(QMainWindow):
    """The conversation window. Thread: GUI.

    Signals:
        sig_settings_requested(str): open the settings dialog at a page ("" for the first).
        sig_quit_requested(): the user asked to quit.
    """

    sig_settings_requested = Signal(str)
    sig_quit_requested = Signal()

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.close_to_tray = False
        self.setWindowTitle("VoxDesk")
        self.setAccessibleName(_tr("VoxDesk main window"))
        self.resize(1040, 680)
        self._build()
        self._build_menus()
        self.notices = NoticePresenter(self.statusBar(), self.banner, self)
        self._wire()
        self._timer = QTimer(self)
        self._timer.setInterval(TELEMETRY_INTERVAL_MS)
        self._timer.timeout.connect(self.poll_telemetry)
        self._timer.start()
        QApplication.instance().installEventFilter(self)  # type: ignore[union-attr]
        self._set_turn_mode_from_settings()
        bridge.replay()

    # ---- construction -------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget(self)
        root = QVBoxLayout(central)
        header = QHBoxLayout()
        self.state_badge = StateBadge(central)
        self.connection_label = QLabel(_tr("Not connected"), central)
        self.connection_label.setAccessibleName(_tr("Provider and connection"))
        self.model_progress = QProgressBar(central)
        self.model_progress.setAccessibleName(_tr("Model loading progress"))
        self.model_progress.setRange(0, 100)
        self.model_progress.setMaximumWidth(260)
        self.model_progress.hide()
        header.addWidget(self.state_badge)
        header.addSpacing(12)
        header.addWidget(self.connection_label, 1)
        header.addWidget(self.model_progress)
        root.addLayout(header)
        self.banner = Banner(central)
        root.addWidget(self.banner)

        splitter = QSplitter(Qt.Orientation.Horizontal, central)
        self.transcript = TranscriptView(splitter)
        side = QWidget(splitter)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        latency_box = QGroupBox(_tr("Latency"), side)
        QVBoxLayout(latency_box).addWidget(latency_meter := LatencyMeter(latency_box))
        self.latency_meter = latency_meter
        levels_box = QGroupBox(_tr("Audio"), side)
        levels = QVBoxLayout(levels_box)
        self.input_meter = LevelMeter(_tr("Microphone level"), levels_box)
        self.output_meter = LevelMeter(_tr("Speaker level"), levels_box)
        self.echo_label = EchoReadout(levels_box)
        for text, meter in ((_tr("Mic"), self.input_meter), (_tr("Speaker"), self.output_meter)):
            row = QHBoxLayout()
            row.addWidget(QLabel(text, levels_box))
            row.addWidget(meter, 1)
            levels.addLayout(row)
        levels.addWidget(self.echo_label)
        side_layout.addWidget(latency_box)
        side_layout.addWidget(levels_box)
        side_layout.addStretch(1)
        splitter.addWidget(self.transcript)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        root.addWidget(splitter, 1)

        typing = QHBoxLayout()
        self.text_input = QLineEdit(central)
        self.text_input.setPlaceholderText(_tr("Type a message (you can type while talking)…"))
        self.text_input.setAccessibleName(_tr("Message to send"))
        self.send_button = QPushButton(_tr("Send"), central)
        self.send_button.setAccessibleName(_tr("Send typed message"))
        typing.addWidget(self.text_input, 1)
        typing.addWidget(self.send_button)
        root.addLayout(typing)

        controls = QHBoxLayout()
        self.mode_combo = QComboBox(central)
        self.mode_combo.addItem(_tr("Push to talk"), "push_to_talk")
        self.mode_combo.addItem(_tr("Hands-free"), "hands_free")
        self.mode_combo.setAccessibleName(_tr("Turn mode"))
        self.mode_combo.setToolTip(_tr("Push to talk: hold to speak. Hands-free: just talk."))
        self.ptt_button = PttButton(central)
        self.interrupt_button = QPushButton(_tr("Interrupt"), central)
        self.interrupt_button.setAccessibleName(_tr("Interrupt the assistant"))
        self.interrupt_button.setToolTip(_tr("Stop the assistant now (Esc)"))
        self.interrupt_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.interrupt_button.setMinimumHeight(64)
        self.interrupt_button.setEnabled(False)
        self.mute_button = QPushButton(_tr("Mute mic"), central)
        self.mute_button.setCheckable(True)
        self.mute_button.setAccessibleName(_tr("Mute microphone"))
        self.mute_button.setMinimumHeight(64)
        controls.addWidget(self.mode_combo)
        controls.addWidget(self.ptt_button, 1)
        controls.addWidget(self.interrupt_button)
        controls.addWidget(self.mute_button)
        root.addLayout(controls)
        self.setCentralWidget(central)
        self.statusBar().setAccessibleName(_tr("Status"))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(_tr("&File"))
        self.export_md_action = QAction(_tr("Export transcript as &Markdown…"), self)
        self.export_json_action = QAction(_tr("Export transcript as &JSON…"), self)
        quit_action = QAction(_tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        file_menu.addActions([self.export_md_action, self.export_json_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit_menu = self.menuBar().addMenu(_tr("&Edit"))
        copy_action = QAction(_tr("&Copy transcript"), self)
        copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        edit_menu.addAction(copy_action)
        settings_action = QAction(_tr("&Settings…"), self)
        settings_action.setShortcut(QKeySequence("Ctrl+,"))
        edit_menu.addAction(settings_action)
        self.export_md_action.triggered.connect(self._on_export_md_triggered)
        self.export_json_action.triggered.connect(self._on_export_json_triggered)
        copy_action.triggered.connect(self.transcript.copy_all)
        settings_action.triggered.connect(lambda: self.sig_settings_requested.emit(""))
        quit_action.triggered.connect(self.sig_quit_requested)

    def _wire(self) -> None:
        b = self.bridge
        b.sig_state_changed.connect(self._on_bridge_state_changed)
        b.sig_transcript_updated.connect(self.transcript.show_line)
        b.sig_tool_call_updated.connect(self.transcript.show_tool_call)
        b.sig_connection_changed.connect(self._on_bridge_connection_changed)
        b.sig_model_progress.connect(self._on_bridge_model_progress)
        b.sig_notice_posted.connect(self.notices.present)
        self.banner.sig_action_requested.connect(self._on_banner_action_requested)
        self.ptt_button.sig_talk_started.connect(b.press_to_talk)
        self.ptt_button.sig_talk_stopped.connect(b.release_to_talk)
        self.interrupt_button.clicked.connect(b.interrupt)
        self.interrupt_shortcut.activated.connect(self._on_interrupt_shortcut_activated)
        self.mute_button.toggled.connect(self._on_mute_toggled)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.text_input.returnPressed.connect(self._on_send_clicked)
        self.send_button.clicked.connect(self._on_send_clicked)

    def _set_turn_mode_from_settings(self) -> None:
        mode = "push_to_talk"
        try:
            mode = str(self.bridge.core.settings_store.current.get("session.turn_mode"))
        except Exception:  # no store yet, or no such key: keep the default
            log.debug("turn mode not in settings; using push to talk")
        index = self.mode_combo.findData(mode)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(max(0, index))
        self.mode_combo.blockSignals(False)
        self._apply_mode_to_controls(str(self.mode_combo.currentData()))

    # ---- slots --------------------------------------------------------------------------
    @Slot(object)
    def _on_bridge_state_changed(self, event: SessionStateChanged) -> None:
        self.state_badge.set_state(event.state, event.reason)
        can_interrupt = event.state in INTERRUPTIBLE
        self.interrupt_button.setEnabled(can_interrupt)
        self.interrupt_button.setStyleSheet(
            "QPushButton { background: #dc2626; color: white; border-radius: 10px;"
            " padding: 8px 16px; font-weight: 600; }"
            if can_interrupt
            else ""
        )

    @Slot(object)
    def _on_bridge_connection_changed(self, event: ConnectionChanged) -> None:
        colour = _CONNECTION_COLOUR[event.state]
        state = _tr(event.state.value.capitalize())
        self.connection_label.setText(
            f"<span style='color:{colour}'>●</span> {event.provider} · {event.model} — {state}"
        )
        self.connection_label.setToolTip(event.detail)
        self.connection_label.setAccessibleDescription(f"{event.provider} {event.model} {state}")

    @Slot(object)
    def _on_bridge_model_progress(self, event: ModelLoadProgress) -> None:
        if event.error:
            self.model_progress.hide()
            self.statusBar().showMessage(event.error)
            return
        if event.done:
            self.model_progress.hide()
            self.statusBar().showMessage(_tr("%1 ready").replace("%1", event.detail), 4000)
            return
        self.model_progress.show()
        self.model_progress.setValue(int(event.fraction * 100))
        self.model_progress.setFormat(f"{event.detail} %p%")

    @Slot(str)
    def _on_banner_action_requested(self, action: str) -> None:
        if action == "reconnect":
            self.bridge.post(Reconnect())
            return
        pages = {"open_keys": "keys", "open_audio_settings": "audio"}
        notice_page = ""
        if action == "open_settings":
            last = self.notices.history[-1] if self.notices.history else None
            if last is not None and last.category in (
                NoticeCategory.AUTHENTICATION,
                NoticeCategory.SECRETS,
            ):
                notice_page = "keys"
            elif last is not None and last.category is NoticeCategory.AUDIO_DEVICE:
                notice_page = "audio"
        self.sig_settings_requested.emit(pages.get(action, notice_page))

    @Slot()
    def _on_interrupt_shortcut_activated(self) -> None:
        if self.interrupt_button.isEnabled():
            self.bridge.interrupt()

    @Slot(bool)
    def _on_mute_toggled(self, muted: bool) -> None:
        self.mute_button.setText(_tr("Unmute mic") if muted else _tr("Mute mic"))
        self.bridge.set_mic_muted(muted)

    @Slot(int)
    def _on_mode_changed(self, index: int) -> None:
        mode = str(self.mode_combo.itemData(index))
        self._apply_mode_to_controls(mode)
        self.bridge.set_turn_mode(mode)

    def _apply_mode_to_controls(self, mode: str) -> None:
        hands_free = mode == "hands_free"
        self.ptt_button.setEnabled(not hands_free)
        self.ptt_button.setToolTip(
            _tr("Hands-free mode: just talk; switch to push to talk to use this button.")
            if hands_free
            else _tr("Hold while you speak (or hold Space)")
        )

    @Slot()
    def _on_send_clicked(self) -> None:
        text = self.text_input.text()
        if text.strip():
            self.bridge.send_text(text)
            self.text_input.clear()

    @Slot()
    def poll_telemetry(self) -> None:
        """Read the core's telemetry and latency snapshots (the ~30 Hz timer's slot)."""
        if not self.isVisible():
            return
        try:
            levels = read_levels(self.bridge.core.telemetry())
            latency = self.bridge.core.latency()
        except Exception:  # a core that is starting or stopping has no numbers yet
            log.debug("telemetry not available", exc_info=True)
            return
        self.input_meter.set_level(levels.input_rms_db, levels.input_peak_db)
        self.output_meter.set_level(levels.output_rms_db, levels.output_peak_db)
        self.echo_label.show_reading(
            self._aec_enabled(), levels.echo_attenuation_db, levels.output_rms_db
        )
        self.latency_meter.set_snapshot(latency)

    def _aec_enabled(self) -> bool:
        try:
            return bool(self.bridge.core.settings_store.current.get("audio.aec_enabled"))
        except Exception:  # no settings store: the engine's estimate alone decides
            return True

    def _export(self, kind: str) -> None:
        suffix = "md" if kind == "md" else "json"
        path, _ = QFileDialog.getSaveFileName(
            self, _tr("Export transcript"), f"voxdesk-transcript.{suffix}", f"*.{suffix}"
        )
        if not path:
            return
        text = (
            self.transcript.model.to_markdown() if kind == "md" else self.transcript.model.to_json()
        )
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.statusBar().showMessage(_tr("Could not save: %1").replace("%1", str(exc)))
            return
        self.statusBar().showMessage(_tr("Transcript saved to %1").replace("%1", path), 5000)

    @Slot()
    def _on_export_md_triggered(self) -> None:
        self._export("md")

    @Slot()
    def _on_export_json_triggered(self) -> None:
        self._export("json")

    # ---- keyboard: Space is push-to-talk while this window has focus ----------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: D102 - Qt override
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        key_event = event if isinstance(event, QKeyEvent) else None
        if key_event is None or key_event.key() != Qt.Key.Key_Space or key_event.modifiers():
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self:
            return False
        if not self.ptt_button.isEnabled() or isinstance(watched, _SPACE_OWNERS):
            return False  # typing, toggling, or the talk button's own press/release handling
        if not key_event.isAutoRepeat():
            self.ptt_button.key(kind == QEvent.Type.KeyPress)
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: D102 - Qt override
        if self.close_to_tray:
            event.ignore()
            self.hide()
            return
        event.accept()
        self.sig_quit_requested.emit()

    def shutdown(self) -> None:
        """Stop polling and drop the global key filter (before the core stops)."""
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
