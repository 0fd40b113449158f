"""The dialog's draft: edits kept apart from the applied settings until the user applies them."""

from __future__ import annotations

from app.settings.schema import SettingError, Value
from app.settings.snapshot import Settings


class Draft:
    """Edited values on top of a baseline :class:`Settings` snapshot.

    Thread: GUI (plain data; no Qt).
    """

    def __init__(self, baseline: Settings) -> None:
        self._baseline = baseline
        self._edits: dict[str, object] = {}

    @property
    def baseline(self) -> Settings:
        """The applied snapshot the draft is compared with."""
        return self._baseline

    def value(self, key: str) -> object:
        """The draft value of ``key`` (edited or baseline)."""
        return self._edits.get(key, self._baseline.get(key))

    def set(self, key: str, value: object) -> None:
        """Record an edit; setting the baseline value back drops the edit."""
        if value == self._baseline.get(key):
            self._edits.pop(key, None)
        else:
            self._edits[key] = value

    def changes(self) -> dict[str, object]:
        """The edited keys and their draft values."""
        return dict(self._edits)

    def is_changed(self, key: str) -> bool:
        """Whether ``key`` differs from the baseline."""
        return key in self._edits

    def validated(self) -> dict[str, Value]:
        """Validate every edit together and return the converted changes.

        Raises:
            SettingError: the first invalid value (user-readable message).
        """
        new = self._baseline.with_changes(self._edits)
        return {key: new.get(key) for key in self._baseline.diff(new)}

    def errors(self) -> list[SettingError]:
        """Every invalid edit, each with its own message."""
        problems: list[SettingError] = []
        for key, value in self._edits.items():
            try:
                self._baseline.with_changes({key: value})
            except SettingError as exc:
                problems.append(exc)
        return problems

    def commit(self) -> dict[str, Value]:
        """Validate, make the edits the new baseline and return what changed.

        Raises:
            SettingError: nothing is committed when any edit is invalid.
        """
        changes = self.validated()
        self._baseline = self._baseline.with_changes(changes)
        self._edits.clear()
        return changes

    def discard(self) -> None:
        """Drop every edit."""
        self._edits.clear()

    def rebase(self, baseline: Settings) -> None:
        """Take a new baseline (e.g. the store changed), keeping edits that still differ."""
        self._baseline = baseline
        self._edits = {k: v for k, v in self._edits.items() if v != baseline.get(k)}
