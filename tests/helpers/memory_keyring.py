"""A keyring backend held in a dict with a secure backend's priority (an edge fake for tests).

The real Secret Service round trip is tested against gnome-keyring; tests that only need *a*
secure backend use this one.
"""

from __future__ import annotations


class MemoryKeyring:
    """Enough of keyring's backend interface for ``SecretStore``."""

    priority = 5

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.store.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.store[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        self.store.pop((service, user), None)
