"""``SettingsStore``: loads, validates, migrates, saves and publishes the user's settings.

The file is JSON (see ``app.settings.migrations`` for the layouts). Loading never raises: a file
that cannot be read or decoded is moved aside to ``<name>.corrupt-<timestamp>`` and defaults are
used; a single invalid value falls back to its default; each problem becomes a ``UserNotice``.
Saving is atomic (temporary file in the same directory, fsync, ``os.replace``).

Thread: every method may be called from any thread. Subscribers are called on the thread that
called ``apply``/``load``, in the order the changes were made; they may read ``current`` or call
``apply`` again, but must not block. Subscribers that own thread-bound state must hand the change
over to their own thread (e.g. ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from app.events import NoticeCategory, NoticeLevel, UserNotice
from app.settings import migrations, schema
from app.settings.migrations import VERSION_KEY, MigrationError
from app.settings.schema import SCHEMA_VERSION, SettingError
from app.settings.snapshot import Settings

log = logging.getLogger("app.settings")

Subscriber = Callable[[Settings, frozenset[str]], None]
"""Called with the new snapshot and the changed keys it subscribed to."""


class _Unreadable(Exception):
    """The file could not be read or decoded; the message says why, in plain words."""


class SettingsStore:
    """The user's settings file and the current snapshot.

    Args:
        path: the JSON file; ``None`` keeps settings in memory only (``save`` does nothing).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Held across swap + publish so subscribers see changes in the order they were made.
        self._order = threading.RLock()
        self._current = Settings.defaults()
        self._unknown: dict[str, Any] = {}
        self._read_only = False
        self._subscribers: list[tuple[frozenset[str], Subscriber]] = []

    @classmethod
    def default(cls) -> SettingsStore:
        """Return a store for the platform settings file (``app.paths.default_settings_path``)."""
        from app.paths import default_settings_path

        return cls(default_settings_path())

    @property
    def current(self) -> Settings:
        """The current snapshot (replaced, never mutated, by ``apply`` and ``load``)."""
        return self._current

    @property
    def read_only(self) -> bool:
        """True when the file comes from a newer VoxDesk and ``save`` must leave it alone."""
        return self._read_only

    @property
    def unknown(self) -> dict[str, Any]:
        """Keys in the file that this version does not know (kept and written back), dotted."""
        return dict(self._unknown)

    def load(self) -> list[UserNotice]:
        """Read the file into ``current`` and return what the user should be told. Never raises.

        A missing file means defaults and no notice. Subscribers are told about changed keys.
        """
        notices: list[UserNotice] = []
        values: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        read_only = upgraded = False
        if self.path is not None and self._exists():
            try:
                data = self._read()
                version = migrations.file_version(data)
                if version > SCHEMA_VERSION:
                    read_only = True
                    notices.append(_future_notice(self.path, version))
                    log.warning("settings file %s has newer schema %d", self.path, version)
                    values, unknown = _flatten(data)
                else:
                    migrated = migrations.migrate(data)
                    _check_sections(migrated)
                    values, unknown = _flatten(migrated)
                    upgraded = version < SCHEMA_VERSION
                    if upgraded:
                        self._keep_backup(version)
            except (_Unreadable, MigrationError) as exc:
                notices.append(self._move_aside(str(exc)))
            except (RecursionError, ValueError, TypeError, AttributeError) as exc:
                # Pathological content (e.g. absurdly deep nesting): treat as corrupt.
                notices.append(self._move_aside(f"it could not be decoded ({type(exc).__name__})"))
        if unknown:
            log.warning("unknown settings kept as they are: %s", ", ".join(sorted(unknown)))
        valid: dict[str, Any] = {}
        for key, value in values.items():
            try:
                valid[key] = schema.validate(key, value)
            except SettingError as exc:
                notices.append(_invalid_notice(key, exc))
                log.warning("invalid setting %s ignored: %s", key, exc.message)
        snapshot = Settings(valid)
        with self._order:
            with self._lock:
                old, self._current = self._current, snapshot
                self._unknown, self._read_only = unknown, read_only
            self._publish(snapshot, old.diff(snapshot))
        if upgraded:
            self._save_quietly()
        return notices

    def apply(self, changes: Mapping[str, object]) -> set[str]:
        """Validate every change, then apply all of them at once; return the keys that changed.

        Raises:
            SettingError: a key is unknown or a value invalid; nothing is applied then.
        """
        with self._order:
            with self._lock:
                old = self._current
                new = old.with_changes(changes)
                changed = old.diff(new)
                self._current = new
            self._publish(new, changed)
        return changed

    def save(self) -> bool:
        """Write the current settings atomically; return False when nothing was written.

        Nothing is written for an in-memory store or a file from a newer VoxDesk.

        Raises:
            OSError: the file could not be written; the previous file is left intact.
        """
        if self.path is None or self._read_only:
            return False
        with self._lock:
            data = _unflatten(self._current.non_defaults(), self._unknown)
        _write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        return True

    def subscribe(self, keys: Iterable[str], callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(snapshot, changed_keys)`` whenever one of ``keys`` changes.

        ``keys`` are dotted registry keys; ``"<section>.*"`` stands for every key of a section.
        Returns a function that removes the subscription.

        Raises:
            KeyError: a key (or section) is not in the registry.
            ValueError: ``keys`` is empty.
        """
        wanted = frozenset(_expand(keys))
        if not wanted:
            raise ValueError("subscribe() needs at least one key")
        entry = (wanted, callback)
        with self._lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def _publish(self, snapshot: Settings, changed: set[str]) -> None:
        if not changed:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for wanted, callback in subscribers:
            hit = wanted & changed
            if hit:
                try:
                    callback(snapshot, frozenset(hit))
                except Exception:  # one broken observer must not starve the others
                    log.exception("settings subscriber %r failed", callback)

    def _exists(self) -> bool:
        assert self.path is not None
        return os.path.lexists(self.path)

    def _read(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise _Unreadable(f"it could not be read ({exc.strerror or exc})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Unreadable("it is not a text file") from None
        except json.JSONDecodeError as exc:
            raise _Unreadable(f"it is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict):
            raise _Unreadable("it does not hold a JSON object")
        return data

    def _move_aside(self, reason: str) -> UserNotice:
        assert self.path is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while os.path.lexists(target):
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, target)
        except OSError as exc:
            log.error("could not move unreadable settings %s aside: %s", self.path, exc)
            return UserNotice(
                NoticeLevel.WARNING,
                NoticeCategory.SETTINGS,
                f"Your settings file {self.path} could not be used because {reason}, and it "
                f"could not be moved aside ({exc.strerror or exc}). VoxDesk is using default "
                "settings for now.",
            )
        log.warning("unreadable settings file moved to %s: %s", target, reason)
        return UserNotice(
            NoticeLevel.WARNING,
            NoticeCategory.SETTINGS,
            f"Your settings file could not be used because {reason}. VoxDesk started with default "
            f"settings; the old file was moved to {target}.",
        )

    def _keep_backup(self, version: int) -> None:
        assert self.path is not None
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        if not backup.exists():
            try:
                _write_atomic(backup, self.path.read_text(encoding="utf-8"))
            except OSError as exc:
                log.warning("could not back up settings before upgrading: %s", exc)
        log.info("settings upgraded from version %d to %d", version, SCHEMA_VERSION)

    def _save_quietly(self) -> None:
        try:
            self.save()
        except OSError as exc:
            log.warning("could not write upgraded settings to %s: %s", self.path, exc)


def _check_sections(data: Mapping[str, Any]) -> None:
    for section, _ in schema.SECTIONS:
        if section in data and not isinstance(data[section], dict):
            raise _Unreadable(f"its {section!r} section is not an object")


def _flatten(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a version-2 layout into (known dotted values, unknown dotted entries)."""
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    registry_keys = schema.keys()
    for top, value in data.items():
        if top in (VERSION_KEY, "version"):
            continue
        if isinstance(value, dict):
            for name, inner in value.items():
                dotted = f"{top}.{name}"
                (known if dotted in registry_keys else unknown)[dotted] = inner
        else:
            unknown[top] = value
    return known, unknown


def _unflatten(values: Mapping[str, Any], unknown: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {VERSION_KEY: SCHEMA_VERSION}
    for dotted, value in [*unknown.items(), *values.items()]:
        if "." in dotted:
            section, name = dotted.split(".", 1)
            if not isinstance(data.get(section), dict):
                data[section] = {}  # a known section always wins over a stray scalar
            data[section][name] = value
        else:
            data[dotted] = value
    return data


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _expand(keys: Iterable[str]) -> set[str]:
    if isinstance(keys, str):
        raise TypeError("subscribe() takes an iterable of keys, not one string")
    out: set[str] = set()
    sections = {s for s, _ in schema.SECTIONS}
    for key in keys:
        if key.endswith(".*") and key[:-2] in sections:
            out.update(s.key for s in schema.in_section(key[:-2]))
        else:
            out.add(schema.get(key).key)
    return out


def _invalid_notice(key: str, exc: SettingError) -> UserNotice:
    default = schema.get(key).default
    return UserNotice(
        NoticeLevel.WARNING,
        NoticeCategory.SETTINGS,
        f"A saved setting was not valid: {exc.message} VoxDesk is using the default "
        f"({default!r}) instead.",
        action="open_settings",
    )


def _future_notice(path: Path, version: int) -> UserNotice:
    return UserNotice(
        NoticeLevel.WARNING,
        NoticeCategory.SETTINGS,
        f"Your settings file {path} was written by a newer VoxDesk (settings version {version}; "
        f"this one knows {SCHEMA_VERSION}). VoxDesk uses what it understands and will not change "
        "the file, so changes you make now are not saved.",
    )


__all__ = ["Settings", "SettingError", "SettingsStore", "Subscriber"]
