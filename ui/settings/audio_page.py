"""The Audio page: device pickers, DSP options, a live mic meter, test tone and self-test."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from PySide6.QtCore import QCoreApplication, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.settings.schema import Setting
from ui.bridge import Bridge
from ui.settings.draft import Draft
from ui.settings.fields import FieldEditor
from ui.settings.page import SettingsPage
from ui.telemetry import read_levels
from ui.widgets.level_meter import LevelMeter

log = logging.getLogger("ui")


def _tr(text: str) -> str:
    return QCoreApplication.translate("AudioPage", text)


def device_names(bridge: Bridge, output: bool) -> list[str]:
    """Input (or output) device names: the facade's ``list_devices()`` or ``app.audio.devices``."""
    lister: Callable[[], Iterable[object]] | None = bridge.optional("list_devices")
    try:
        if lister is None:
            from app.audio.devices import list_devices

            lister = list_devices
        devices = list(lister())
    except Exception as exc:  # no PortAudio or no sound server: only "system default" is offered
        log.info("could not list audio devices: %s", exc)
        return []
    channel_key = "max_output_channels" if output else "max_input_channels"
    names: list[str] = []
    for device in devices:
        if isinstance(device, dict):
            name, channels = device.get("name", ""), device.get(channel_key, 0)
        else:
            name = getattr(device, "name", "")
            channels = getattr(device, channel_key, None)
            if channels is None:
                channels = getattr(device, "is_output" if output else "is_input", False)
        if name and channels and name not in names:
            names.append(str(name))
    return names


class AudioPage(SettingsPage):
    """Audio settings plus live checks. Thread: GUI.

    Signals:
        sig_self_test_finished(str): the self-test's result text (from its worker thread, queued).
    """

    sig_self_test_finished = Signal(str)
    page_id = "audio"

    def __init__(self, draft: Draft, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__("audio", draft, bridge, parent)
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(33)
        self._meter_timer.timeout.connect(self._on_meter_timer_timeout)
        self._meter_timer.start()
        self.sig_self_test_finished.connect(self._on_self_test_finished)

    def custom_editor(self, setting: Setting, parent: QWidget) -> FieldEditor | None:
        """Device keys get an editable list of the devices present."""
        if setting.key not in ("audio.input_device", "audio.output_device"):
            return None
        combo = QComboBox(parent)
        combo.setEditable(True)
        combo.addItem(_tr("System default"), "")
        for name in device_names(self.bridge, output=setting.key == "audio.output_device"):
            combo.addItem(name, name)
        return FieldEditor(setting, combo, parent)

    def add_extras(self, layout: QVBoxLayout) -> None:
        """Add the live mic meter, the test tone and the audio self-test."""
        box = QGroupBox(_tr("Check your audio"), self)
        inner = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel(_tr("Microphone"), box))
        self.mic_meter = LevelMeter(_tr("Live microphone level"), box)
        row.addWidget(self.mic_meter, 1)
        inner.addLayout(row)
        buttons = QHBoxLayout()
        self.tone_button = QPushButton(_tr("Play test tone"), box)
        self.self_test_button = QPushButton(_tr("Run audio self-test"), box)
        self._wire_optional(
            self.tone_button,
            "play_test_tone",
            _tr("Plays a short tone on the selected speaker."),
            self._on_tone_clicked,
        )
        self._wire_optional(
            self.self_test_button,
            "run_audio_self_test",
            _tr("Plays a tone, listens to the microphone and measures echo delay and attenuation."),
            self._on_self_test_clicked,
        )
        buttons.addWidget(self.tone_button)
        buttons.addWidget(self.self_test_button)
        buttons.addStretch(1)
        inner.addLayout(buttons)
        self.self_test_result = QLabel("", box)
        self.self_test_result.setWordWrap(True)
        self.self_test_result.setAccessibleName(_tr("Self-test result"))
        inner.addWidget(self.self_test_result)
        layout.addWidget(box)

    def _wire_optional(
        self, button: QPushButton, name: str, help_text: str, slot: Callable[[], None]
    ) -> None:
        button.setAccessibleName(button.text())
        if self.bridge.optional(name) is None:
            button.setEnabled(False)
            button.setToolTip(_tr("Not available: the audio engine is not running."))
        else:
            button.setToolTip(help_text)
            button.clicked.connect(slot)

    @Slot()
    def _on_meter_timer_timeout(self) -> None:
        if not self.isVisible():
            return
        try:
            levels = read_levels(self.bridge.core.telemetry())
        except Exception:  # the engine may be restarting its stream
            return
        self.mic_meter.set_level(levels.input_rms_db, levels.input_peak_db)

    @Slot()
    def _on_tone_clicked(self) -> None:
        play = self.bridge.optional("play_test_tone")
        if play is not None:
            play()

    @Slot()
    def _on_self_test_clicked(self) -> None:
        run = self.bridge.optional("run_audio_self_test")
        if run is None:
            return
        self.self_test_button.setEnabled(False)
        self.self_test_result.setText(_tr("Running… keep the room quiet for a few seconds."))

        def work() -> None:
            try:
                text = _describe(run())
            except Exception as exc:  # reported in the dialog, not as a crash
                text = _tr("The self-test failed: %1").replace("%1", str(exc))
            self.sig_self_test_finished.emit(text)

        threading.Thread(target=work, name="audio-self-test", daemon=True).start()

    @Slot(str)
    def _on_self_test_finished(self, text: str) -> None:
        self.self_test_button.setEnabled(True)
        self.self_test_result.setText(text)


def _describe(result: object) -> str:
    message = getattr(result, "message", None)  # app.audio.selftest.SelfTestResult
    return message if isinstance(message, str) and message else str(result)
