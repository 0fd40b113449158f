"""Decides how each ``UserNotice`` is shown: status line, banner, or tray message."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QStatusBar

from app.events import NoticeCategory, NoticeLevel, UserNotice
from ui.widgets.banner import Banner

log = logging.getLogger("ui")

STATUS_TIMEOUT_MS = 8000

# Categories whose problems persist until the user acts, even when the core sent no action.
_PERMANENT = {NoticeCategory.AUTHENTICATION, NoticeCategory.QUOTA, NoticeCategory.SECRETS}


class NoticePresenter(QObject):
    """Routes notices: transient ones to the status line, ones needing action to the banner.

    Modal dialogs are never opened here: they are only for direct responses to a user action.

    Thread: GUI.
    """

    def __init__(
        self, status_bar: QStatusBar, banner: Banner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._status = status_bar
        self._banner = banner
        self._shown: list[UserNotice] = []

    @property
    def history(self) -> list[UserNotice]:
        """Every notice presented, oldest first (for the status-line history and tests)."""
        return list(self._shown)

    @Slot(object)
    def present(self, notice: UserNotice) -> None:
        """Show ``notice`` in the form its level, category and action call for."""
        self._shown = [*self._shown, notice][-100:]
        if needs_banner(notice):
            self._banner.show_notice(notice)
            return
        self._status.showMessage(notice.text, STATUS_TIMEOUT_MS)
        shown = self._banner.notice
        if (
            notice.level is NoticeLevel.INFO
            and shown is not None
            and shown.category is notice.category
        ):
            self._banner.dismiss()  # the problem it reported is resolved


def needs_banner(notice: UserNotice) -> bool:
    """Whether a notice needs the persistent banner rather than the status line."""
    return (
        notice.action is not None
        or notice.level is NoticeLevel.ERROR
        or (notice.category in _PERMANENT and notice.level is not NoticeLevel.INFO)
    )
