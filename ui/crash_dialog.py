"""The crash dialog and the hooks that feed it from every thread.

``sys.excepthook``, ``threading.excepthook`` and the session loop's asyncio exception handler all
forward to :class:`CrashReporter`, whose signal delivers the report to the GUI thread.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.log import redact

log = logging.getLogger("ui")


def _tr(text: str) -> str:
    return QCoreApplication.translate("CrashDialog", text)


class CrashDialog(QDialog):
    """Shows what went wrong, with the (redacted) details to copy into a bug report."""

    def __init__(self, where: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("VoxDesk hit a problem"))
        self.setAccessibleName(_tr("Crash report"))
        layout = QVBoxLayout(self)
        intro = QLabel(
            _tr(
                "Something went wrong in %1. VoxDesk keeps running, but the last action may not "
                "have finished. You can copy the details below into a bug report; they contain "
                "no API keys."
            ).replace("%1", where),
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.details = QPlainTextEdit(redact(details), self)
        self.details.setReadOnly(True)
        self.details.setAccessibleName(_tr("Error details"))
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = QPushButton(_tr("Copy details"), self)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self._on_copy_clicked)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @Slot()
    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())


class CrashReporter(QObject):
    """Collects unexpected exceptions from any thread and shows them on the GUI thread.

    Thread: lives on the GUI thread; :meth:`report` may be called from any thread.

    Signals:
        sig_crash_reported(str, str): where it happened and the formatted traceback (queued).
    """

    sig_crash_reported = Signal(str, str)

    def __init__(self, parent: QObject | None = None, *, show_dialog: bool = True) -> None:
        super().__init__(parent)
        self._show_dialog = show_dialog
        self.reports: list[tuple[str, str]] = []
        self._dialog: CrashDialog | None = None
        self.sig_crash_reported.connect(self._on_crash_reported)

    def report(self, where: str, details: str) -> None:
        """Report a crash. Thread: any."""
        log.error("unexpected error in %s:\n%s", where, details)
        self.sig_crash_reported.emit(where, redact(details))

    @Slot(str, str)
    def _on_crash_reported(self, where: str, details: str) -> None:
        self.reports.append((where, details))
        if not self._show_dialog:
            return
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.details.appendPlainText("\n" + details)
            return
        self._dialog = CrashDialog(where, details)
        self._dialog.show()

    def install(self) -> Callable[[], None]:
        """Install ``sys.excepthook`` and ``threading.excepthook``; returns an uninstaller."""
        old_sys, old_threading = sys.excepthook, threading.excepthook

        def sys_hook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            if issubclass(exc_type, KeyboardInterrupt):
                old_sys(exc_type, exc, tb)
                return
            self.report(
                _tr("the main window"), "".join(traceback.format_exception(exc_type, exc, tb))
            )

        def thread_hook(args: threading.ExceptHookArgs) -> None:
            name = args.thread.name if args.thread is not None else "?"
            exc = args.exc_value if args.exc_value is not None else args.exc_type()
            text = "".join(traceback.format_exception(args.exc_type, exc, args.exc_traceback))
            self.report(_tr("background thread %1").replace("%1", name), text)

        sys.excepthook = sys_hook
        threading.excepthook = thread_hook

        def uninstall() -> None:
            sys.excepthook, threading.excepthook = old_sys, old_threading

        return uninstall

    def asyncio_handler(self) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
        """An exception handler for the session loop (``loop.set_exception_handler``)."""

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            message = str(context.get("message", ""))
            if isinstance(exc, BaseException):
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            else:
                text = message
            self.report(_tr("the session loop"), f"{message}\n{text}".strip())

        return handler
