"""Fixtures for the alerting tests (the digest tests have their own conftest below)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.testing import MemoryStore
from core.state.base import StateStore


@pytest.fixture
def mem() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    from core.state import open_store

    store = open_store("sqlite", path=tmp_path / "state.db")
    try:
        yield store
    finally:
        store.close()
