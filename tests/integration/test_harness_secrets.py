"""The Secret Service rig, for real: keyring round trip over a private bus, clean teardown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.harness.procs import session_members
from app.harness.secret_service import SecretService

pytestmark = pytest.mark.slow


def test_keyring_round_trip_through_gnome_keyring(secret_service: SecretService) -> None:
    from keyring.backends.SecretService import Keyring

    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == secret_service.address
    assert "DISPLAY" not in os.environ
    backend = Keyring()
    backend.set_password("voxdesk-harness", "api_key", "s3cret-value")
    assert backend.get_password("voxdesk-harness", "api_key") == "s3cret-value"
    backend.delete_password("voxdesk-harness", "api_key")
    assert backend.get_password("voxdesk-harness", "api_key") is None


def test_secret_service_teardown_leaves_nothing_behind(tmp_path: Path) -> None:
    before = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    service = SecretService.start(tmp_path / "s")
    pids = service.pids
    assert len(pids) == 2
    assert service.secrets_owned()
    service.activate()
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == service.address
    service.stop()
    service.stop()  # idempotent
    assert os.environ.get("DBUS_SESSION_BUS_ADDRESS") == before
    for pid in pids:
        assert session_members(pid) == []
        assert not Path(f"/proc/{pid}").exists()
