"""The echo-attenuation readout: the engine's live estimate, held between replies.

The pipeline only estimates echo attenuation (ERLE) while the assistant's audio plays, and drops
the estimate about two seconds after playback stops. The readout therefore says "measuring…"
only until something has played, shows the live estimate while one exists, and afterwards keeps
the last estimate, marked as coming from the last reply.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QWidget

ERLE_SHOWN_RANGE_DB = (-30.0, 100.0)
"""Estimates outside it are floor values: below, the microphone heard nothing at all while the
assistant played (mic power at digital silence); above, the canceller left no residual."""
PLAYED_DBFS = -60.0
"""Output level above which the speaker is playing (the pipeline's far-end activity level)."""


def _tr(text: str) -> str:
    return QCoreApplication.translate("EchoReadout", text)


class EchoReadout(QLabel):
    """Shows echo attenuation in words. Thread: GUI; fed by the window's telemetry timer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_tr("Echo attenuation: measuring…"), parent)
        self.setAccessibleName(_tr("Echo attenuation"))
        self._played = False
        self._last: str | None = None

    @property
    def has_played(self) -> bool:
        """Whether any assistant audio has reached the speaker since the window opened."""
        return self._played

    def show_reading(
        self, aec_enabled: bool, estimate_db: float | None, output_rms_db: float | None
    ) -> None:
        """Update from one telemetry poll.

        Args:
            aec_enabled: whether echo cancellation is on in the settings.
            estimate_db: the engine's live estimate, None when it has none.
            output_rms_db: the level of the last block written to the speaker.
        """
        if output_rms_db is not None and output_rms_db > PLAYED_DBFS:
            self._played = True
        if not aec_enabled:
            self._set(_tr("Echo cancellation: off"))
            return
        if estimate_db is not None:
            self._played = True
            self._last = _describe(estimate_db)
            self._set(_tr("Echo attenuation: %1").replace("%1", self._last))
        elif self._last is not None:
            self._set(_tr("Echo attenuation: %1 (last reply)").replace("%1", self._last))
        elif self._played:
            self._set(_tr("Echo attenuation: not measured (the reply was too quiet)"))
        else:
            self._set(_tr("Echo attenuation: measuring…"))

    def _set(self, text: str) -> None:
        if text != self.text():  # the timer polls at ~30 Hz; relayout only on change
            self.setText(text)
            self.setAccessibleDescription(text)


def _describe(estimate_db: float) -> str:
    low, high = ERLE_SHOWN_RANGE_DB
    if estimate_db < low:
        return _tr("no echo reached the microphone")
    if estimate_db > high:
        return _tr("over %1 dB").replace("%1", f"{high:.0f}")
    return _tr("%1 dB").replace("%1", f"{estimate_db:.0f}")
