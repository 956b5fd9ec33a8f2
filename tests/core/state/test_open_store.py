"""open_store(): backend selection from settings, and failure modes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from core.state import DEFAULT_STATE_PATH, StateUnavailableError, open_store
from core.state.base import StateStore
from core.state.sqlite import SQLiteStore
from core.state.tables import TableStore
from tests.support.azurite import Azurite, free_port

FAST = {"retry_total": 0, "connection_timeout": 1, "read_timeout": 2}


def test_default_is_sqlite_at_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(env={})
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == DEFAULT_STATE_PATH
        store.put("ns", "k", {"v": 1})
        assert (tmp_path / "out" / "state.db").is_file()
    finally:
        store.close()


def test_sqlite_path_from_env_and_argument(tmp_path: Path) -> None:
    env = {"VIGIL_STATE": "SQLite", "VIGIL_STATE_PATH": str(tmp_path / "env" / "s.db")}
    with open_store(env=env) as store:  # type: ignore[attr-defined]
        assert isinstance(store, SQLiteStore)
        store.put("ns", "k", {"from": "env"})
    assert (tmp_path / "env" / "s.db").is_file()
    explicit = open_store("sqlite", path=tmp_path / "arg.db", env=env)
    try:
        assert isinstance(explicit, SQLiteStore)
        assert explicit.path == str(tmp_path / "arg.db")
        assert explicit.get("ns", "k") is None
    finally:
        explicit.close()


def test_reads_os_environ_when_env_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_STATE", "sqlite")
    monkeypatch.setenv("VIGIL_STATE_PATH", str(tmp_path / "environ.db"))
    store = open_store()
    try:
        assert isinstance(store, StateStore)
        assert isinstance(store, SQLiteStore)
        assert store.path == str(tmp_path / "environ.db")
    finally:
        store.close()


def test_unknown_backend_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"VIGIL_STATE must be one of sqlite, table; got 'redis'"):
        open_store(env={"VIGIL_STATE": "redis"})


def test_table_without_connection_settings_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="AzureWebJobsStorage"):
        open_store(env={"VIGIL_STATE": "table"})


@pytest.mark.azurite
def test_table_from_connection_string_setting(azurite: Azurite, unique_name: Callable[[str], str]) -> None:
    table = unique_name("vigil")
    env = {"VIGIL_STATE": "table", "AzureWebJobsStorage": azurite.connection_string, "VIGIL_STATE_TABLE": table}
    store = open_store(env=env)
    try:
        assert isinstance(store, TableStore)
        store.put("ns", "k", {"v": 1})
    finally:
        store.close()
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    assert table in {t.name for t in service.list_tables()}
    # An explicit connection argument overrides the setting.
    other = open_store("table", connection=azurite.connection_string, env={"VIGIL_STATE_TABLE": table})
    try:
        got = other.get("ns", "k")
        assert got is not None
        assert got.value == {"v": 1}
    finally:
        other.close()


def test_table_default_name() -> None:
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:{free_port()}/a;"
    )
    store = open_store(env={"VIGIL_STATE": "table", "AzureWebJobsStorage": conn})
    assert isinstance(store, TableStore)
    assert store.table_name == "vigilstate"
    store.close()


def test_identity_based_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    # Constructing the store must not contact anything (credentials are lazy).
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    uri = "https://vigilacct.table.core.windows.net"
    with_mi = open_store(
        env={
            "VIGIL_STATE": "table",
            "AzureWebJobsStorage__tableServiceUri": uri,
            "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
            "AzureWebJobsStorage__credential": "managedidentity",
        }
    )
    assert isinstance(with_mi, TableStore)
    assert isinstance(with_mi._client.credential, ManagedIdentityCredential)
    assert with_mi._client.url.startswith(uri)
    with_mi.close()
    by_account = open_store(env={"VIGIL_STATE": "table", "AzureWebJobsStorage__accountName": "vigilacct"})
    assert isinstance(by_account, TableStore)
    assert isinstance(by_account._client.credential, DefaultAzureCredential)
    assert by_account._client.url.startswith(uri)
    by_account.close()


def test_table_endpoint_down_is_state_unavailable() -> None:
    port = free_port()  # nothing listens here
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    store = open_store("table", connection=conn, env={}, client_options=FAST)
    try:
        with pytest.raises(StateUnavailableError, match="unreachable"):
            store.get("ns", "k")
        with pytest.raises(StateUnavailableError):
            store.put("ns", "k", {"v": 1})
        with pytest.raises(StateUnavailableError):
            list(store.ledger("ns"))
    finally:
        store.close()


@pytest.mark.azurite
def test_azurite_outage_mid_run_then_recovery(azurite: Azurite, unique_name: Callable[[str], str]) -> None:
    store = TableStore.from_connection_string(azurite.connection_string, table_name=unique_name("outage"), **FAST)
    try:
        store.put("ns", "k", {"v": 1})
        store.append("audit", {"step": 1}, key="s1")
        azurite.stop()
        with pytest.raises(StateUnavailableError):
            store.put("ns", "k", {"v": 2})
        with pytest.raises(StateUnavailableError):
            store.add("events", "e1", {})
        with pytest.raises(StateUnavailableError):
            list(store.query("ns"))
        azurite.start()
        got = store.get("ns", "k")
        assert got is not None
        assert got.value == {"v": 1}
        assert [e.key for e in store.ledger("audit")] == ["s1"]
        assert store.add("events", "e1", {}) is True
    finally:
        store.close()
        azurite.start()


def test_sqlite_unwritable_location_is_state_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises((StateUnavailableError, OSError)):
        SQLiteStore(blocker / "state.db")
    if os.geteuid() != 0:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        with pytest.raises(StateUnavailableError):
            SQLiteStore(locked / "state.db")
