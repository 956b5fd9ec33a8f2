"""Fixtures for the state contract suite: one ``store`` per backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.state.base import StateStore
from core.state.sqlite import SQLiteStore
from core.state.tables import TableStore
from tests.support.azurite import Azurite

BACKENDS = ["sqlite", pytest.param("table", marks=pytest.mark.azurite)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, unique_name: Callable[[str], str]
) -> Iterator[Callable[[], StateStore]]:
    """Factory for extra handles on the SAME underlying store (as another process would open)."""
    opened: list[StateStore] = []
    table = unique_name("state")
    azurite: Azurite | None = request.getfixturevalue("azurite") if backend == "table" else None

    def factory() -> StateStore:
        store: StateStore
        if azurite is None:
            store = SQLiteStore(tmp_path / "state.db")
        else:
            store = TableStore.from_connection_string(azurite.connection_string, table_name=table, retry_total=2)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], StateStore]) -> StateStore:
    return make_store()
