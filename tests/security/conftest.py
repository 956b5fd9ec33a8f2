"""Fixtures the security tests share: a SQLite state store, the local HTTPS ARM server and
the remediation ARM client over it (the Azure SDK pipeline, TLS and a bearer token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.remediation.arm import ArmClient
from core.state.sqlite import SQLiteStore
from tests.support.azure_server import AzureTestServer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


@pytest.fixture
def arm(server: AzureTestServer) -> Iterator[ArmClient]:
    client = ArmClient(server.credential(), polling_interval=0, **server.client_kwargs())
    yield client
    client.close()
