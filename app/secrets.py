"""API keys, kept only in the OS keyring (through ``keyring``) or, failing that, in memory.

A backend counts as secure when its priority is at least 1 and it is not ``keyring``'s ``fail``
backend. Low-priority backends such as keyrings.alt's ``PlaintextKeyring`` (a base64 file) are
never used: without a secure backend a key is held in memory for this run only and the user is
told why. Nothing here ever writes a key to a file, a log line, an exception or a ``repr``:
every key read or set is registered with ``app.log.register_secret`` for redaction.

Thread: every ``SecretStore`` method may be called from any thread; keyring calls block (D-Bus),
so call them off the session loop and off the GUI thread when a prompt may appear.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from app.events import NoticeCategory, NoticeLevel, UserNotice
from app.log import redact, register_secret

log = logging.getLogger("app.secrets")

SERVICE = "voxdesk"
"""Keyring service name under which keys are stored (the provider id is the user name)."""

SECURE_PRIORITY = 1.0
"""Backends below this priority are treated as "no secure storage"."""


class Secret:
    """A secret string whose ``repr``/``str`` never show it; ``reveal()`` returns it.

    Args:
        value: the secret, non-empty.

    Raises:
        ValueError: ``value`` is empty (the message never contains the value).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself; only pass it straight to the code that needs it."""
        return self._value

    def masked(self) -> str:
        """Return a display form such as ``sk-…***`` (a short known prefix at most)."""
        for prefix in ("sk-proj-", "sk-", "AIza"):
            if self._value.startswith(prefix) and len(self._value) > len(prefix) + 8:
                return f"{prefix}…***"
        return "***"

    def __repr__(self) -> str:
        return f"Secret('{self.masked()}')"

    def __str__(self) -> str:
        return self.masked()

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled")


NoticeSink = Callable[[UserNotice], None]
"""Receives notices (typically the core's observer)."""


class SecretStore:
    """Per-provider API keys in the OS keyring, with an in-memory fallback for this run.

    Args:
        service: keyring service name.
        backend: a ``keyring`` backend to use instead of ``keyring.get_keyring()`` (tests).
        notify: receives a ``UserNotice`` when a key cannot be stored securely.
    """

    def __init__(
        self, service: str = SERVICE, backend: Any = None, notify: NoticeSink | None = None
    ) -> None:
        self.service = service
        self._given_backend = backend
        self._notify = notify
        self._lock = threading.Lock()
        self._memory: dict[str, Secret] = {}
        self._chosen: tuple[Any, str] | None = None  # (secure backend or None, description)
        self._warned: set[str] = set()

    def backend_status(self, refresh: bool = False) -> tuple[bool, str]:
        """Return ``(secure, description)`` of the storage keys go to, in words for the user."""
        backend, description = self._resolve(refresh)
        return backend is not None, description

    def get(self, provider: str) -> Secret | None:
        """Return the key for ``provider``, or ``None`` when there is none."""
        with self._lock:
            held = self._memory.get(provider)
        if held is not None:
            return held
        backend, _ = self._resolve()
        if backend is None:
            return None
        try:
            value = backend.get_password(self.service, provider)
        except Exception as exc:  # keyring raises many types; none may escape with details
            log.warning("reading the key for %s from the keyring failed: %s", provider, _why(exc))
            return None
        if not value:
            return None
        register_secret(value)
        return Secret(value)

    def set(self, provider: str, value: str | Secret) -> bool:
        """Store the key for ``provider``; return True when it is in the keyring for next runs.

        Without a secure keyring (or when writing fails), the key is held in memory for this run
        and a notice tells the user why.

        Raises:
            ValueError: the key is empty.
        """
        secret = value if isinstance(value, Secret) else Secret(value)
        register_secret(secret.reveal())
        backend, description = self._resolve()
        if backend is not None:
            try:
                backend.set_password(self.service, provider, secret.reveal())
            except Exception as exc:
                reason = f"the keyring refused it ({_why(exc)})"
                log.warning("storing the key for %s in the keyring failed: %s", provider, reason)
            else:
                with self._lock:
                    self._memory.pop(provider, None)
                log.info("key for %s stored in %s", provider, description)
                return True
        else:
            reason = description
        with self._lock:
            self._memory[provider] = secret
        self._tell(provider, reason)
        return False

    def delete(self, provider: str) -> None:
        """Forget the key for ``provider`` in memory and in the keyring (missing is fine)."""
        with self._lock:
            self._memory.pop(provider, None)
        backend, _ = self._resolve()
        if backend is None:
            return
        try:
            backend.delete_password(self.service, provider)
        except Exception as exc:  # PasswordDeleteError when absent, others when locked
            log.info("deleting the key for %s from the keyring: %s", provider, _why(exc))

    def held_in_memory(self, provider: str) -> bool:
        """Return True when ``provider``'s key lives only in memory (asked again next run)."""
        with self._lock:
            return provider in self._memory

    def _resolve(self, refresh: bool = False) -> tuple[Any, str]:
        with self._lock:
            if self._chosen is not None and not refresh:
                return self._chosen
        chosen = choose_backend(self._given_backend)
        with self._lock:
            self._chosen = chosen
        return chosen

    def _tell(self, provider: str, reason: str) -> None:
        with self._lock:
            first = provider not in self._warned
            self._warned.add(provider)
        if not first or self._notify is None:
            return
        self._notify(
            UserNotice(
                NoticeLevel.WARNING,
                NoticeCategory.SECRETS,
                f"Your {provider} API key is kept in memory for this session only, because "
                f"{reason}. VoxDesk will ask for it again next time. To keep it, install and "
                "unlock a system keyring (GNOME Keyring or KWallet).",
                action="open_settings",
            )
        )


def choose_backend(backend: Any = None) -> tuple[Any, str]:
    """Return ``(secure backend or None, description)`` for ``backend`` or keyring's default.

    A chainer is unwrapped to its best secure member, so a key can never land in a
    low-priority plaintext backend further down the chain.
    """
    try:
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        candidates = list(getattr(backend, "backends", None) or [backend])
    except Exception as exc:
        return None, f"no system keyring could be opened ({_why(exc)})"
    secure = []
    rejected = []
    for candidate in candidates:
        name = _name(candidate)
        try:
            priority = float(candidate.priority)
        except Exception as exc:
            rejected.append(f"{name}: {_why(exc)}")
            continue
        if _is_fail(candidate) or priority < SECURE_PRIORITY:
            rejected.append(f"{name}, priority {priority:g}")
        else:
            secure.append((priority, candidate))
    if secure:
        best = max(secure, key=lambda pair: pair[0])[1]
        return best, f"{_name(best)} (system keyring)"
    found = "; ".join(rejected) or "none"
    return None, f"no secure system keyring is available (found: {found})"


def _is_fail(backend: Any) -> bool:
    return type(backend).__module__ == "keyring.backends.fail"


def _name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _why(exc: BaseException) -> str:
    # Exception text from backends is redacted and cut short; the chain is never kept.
    text = redact(str(exc)).strip().splitlines()
    first = text[0][:200] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


__all__ = ["SERVICE", "SECURE_PRIORITY", "Secret", "SecretStore", "choose_backend"]
