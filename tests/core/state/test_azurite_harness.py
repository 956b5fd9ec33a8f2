"""The Azurite harness itself (tests/support/azurite.py)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.support.azurite import Azurite, AzuriteError, unique_name


def test_missing_binary_tells_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match=r"run `npm ci` \(make test does\)"):
        Azurite(tmp_path, binary=tmp_path / "nope" / "azurite").start()


def test_start_failure_reports_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake-azurite"
    fake.write_text("#!/bin/sh\necho 'boom: port in use' >&2\nexit 3\n")
    fake.chmod(0o755)
    emulator = Azurite(tmp_path / "ws", binary=fake)
    with pytest.raises(AzuriteError, match=r"(?s)exited with code 3.*boom: port in use"):
        emulator.start()
    assert not emulator.running


def test_start_timeout_reports_ports(tmp_path: Path) -> None:
    fake = tmp_path / "slow-azurite"
    fake.write_text("#!/bin/sh\necho 'still loading' >&2\nexec sleep 30\n")
    fake.chmod(0o755)
    emulator = Azurite(tmp_path / "ws", binary=fake, startup_timeout=0.5)
    with pytest.raises(AzuriteError, match=r"(?s)did not accept connections.*still loading"):
        emulator.start()
    assert not emulator.running


@pytest.mark.azurite
def test_session_emulator_endpoints(azurite: Azurite) -> None:
    assert azurite.running
    for port in (azurite.blob_port, azurite.queue_port, azurite.table_port):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    conn = azurite.connection_string
    assert f"TableEndpoint=http://127.0.0.1:{azurite.table_port}/devstoreaccount1;" in conn
    assert f"QueueEndpoint=http://127.0.0.1:{azurite.queue_port}/devstoreaccount1;" in conn
    assert f"BlobEndpoint=http://127.0.0.1:{azurite.blob_port}/devstoreaccount1;" in conn


def test_unique_names_are_legal_everywhere() -> None:
    names = {unique_name(prefix) for prefix in ["t", "Jobs", "9lives", "with-dash_and.dot", "", "x" * 80]}
    assert len(names) == 6
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9]{2,62}", name), name
