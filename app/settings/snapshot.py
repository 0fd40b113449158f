"""``Settings``: an immutable, fully validated snapshot of every setting in the registry.

A snapshot is safe to hand to any thread. Changing settings means building a new snapshot with
``with_changes``; ``app.settings.store.SettingsStore`` swaps snapshots and tells subscribers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from app.settings import schema
from app.settings.schema import SettingError, Value


class Settings:
    """Immutable mapping of every registry key to a valid value of its declared type.

    Args:
        values: values to use instead of the defaults; every one is validated.

    Raises:
        SettingError: a key is unknown or a value is invalid.
    """

    __slots__ = ("_values",)

    _values: Mapping[str, Value]

    def __init__(self, values: Mapping[str, object] | None = None) -> None:
        merged = schema.defaults()
        for key, value in (values or {}).items():
            merged[key] = schema.validate(key, value)
        object.__setattr__(self, "_values", MappingProxyType(merged))

    @classmethod
    def defaults(cls) -> Settings:
        """Return the snapshot holding every registry default."""
        return cls()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Settings snapshots are immutable; use with_changes()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Settings snapshots are immutable")

    def get(self, key: str) -> Value:
        """Return the value of ``key``; raise ``KeyError`` for a key not in the registry."""
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(f"unknown setting {key!r}") from None

    def __getitem__(self, key: str) -> Value:
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get_bool(self, key: str) -> bool:
        """Return a ``bool`` setting (``TypeError`` if ``key`` is declared with another type)."""
        return self._typed(key, bool)  # type: ignore[no-any-return]

    def get_int(self, key: str) -> int:
        """Return an ``int`` setting (``TypeError`` if ``key`` is declared with another type)."""
        return self._typed(key, int)  # type: ignore[no-any-return]

    def get_float(self, key: str) -> float:
        """Return a ``float`` setting (``TypeError`` if ``key`` is declared with another type)."""
        return self._typed(key, float)  # type: ignore[no-any-return]

    def get_str(self, key: str) -> str:
        """Return a ``str`` setting (``TypeError`` if ``key`` is declared with another type)."""
        return self._typed(key, str)  # type: ignore[no-any-return]

    def _typed(self, key: str, expected: type) -> Any:
        declared = schema.get(key).type
        if declared is not expected:
            raise TypeError(f"setting {key!r} is a {declared.__name__}, not a {expected.__name__}")
        return self._values[key]

    def as_dict(self) -> dict[str, Value]:
        """Return a new plain dict of every key and value."""
        return dict(self._values)

    def non_defaults(self) -> dict[str, Value]:
        """Return only the values that differ from their registry default."""
        return {k: v for k, v in self._values.items() if v != schema.get(k).default}

    def with_changes(self, changes: Mapping[str, object]) -> Settings:
        """Return a new snapshot with ``changes`` applied; this one is left as it is.

        Raises:
            SettingError: a key is unknown or a value is invalid (nothing is applied).
        """
        merged: dict[str, object] = dict(self._values)
        for key, value in changes.items():
            merged[key] = schema.validate(key, value)
        return Settings(merged)

    def diff(self, other: Settings) -> set[str]:
        """Return the keys whose values differ between this snapshot and ``other``."""
        return {k for k, v in self._values.items() if other._values[k] != v}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return dict(self._values) == dict(other._values)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"Settings({self.non_defaults()!r})"


__all__ = ["Settings", "SettingError"]
