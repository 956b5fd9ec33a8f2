"""AzureRuntime against Azurite: queues the Functions host can read, blobs, table state, config."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.state.base import Namespace
from vigil.config import ConfigError
from vigil.runtime_azure import (
    AZURITE_CONNECTION_STRING,
    AzureRuntime,
    MessageTooLargeError,
    expand_connection_string,
)
from vigil.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(azurite: Any, unique_name: Callable[[str], str]) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "VIGIL_STATE": "table",
        "VIGIL_STATE_TABLE": unique_name("state"),
        "MY_SETTING": "hello",
        "EMPTY_SETTING": "",
    }


@pytest.fixture
def rt(env: dict[str, str]) -> Iterator[AzureRuntime]:
    runtime = AzureRuntime.from_env(env)
    yield runtime
    runtime.close()


def _peek_raw(conn: str, queue: str) -> list[str]:
    """Raw message text as stored (no decode policy): what the host's base64 decoder sees."""
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(conn, queue)
    return [m.content for m in client.peek_messages(max_messages=32)]


def test_enqueue_creates_queue_and_writes_base64_json(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str]
) -> None:
    queue = unique_name("q")
    rt.enqueue(queue, {"run_id": "r1", "part": 0, "name": "ünïcode"})
    rt.enqueue(queue, {"run_id": "r1", "part": 1})
    raw = _peek_raw(env["AzureWebJobsStorage"], queue)
    assert [json.loads(base64.b64decode(r).decode("utf-8")) for r in raw] == [
        {"name": "ünïcode", "part": 0, "run_id": "r1"},
        {"part": 1, "run_id": "r1"},
    ]


def test_enqueue_with_visibility_timeout_hides_message(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str]
) -> None:
    queue = unique_name("q")
    rt.enqueue(queue, {"later": True}, visibility_timeout=60)
    rt.enqueue(queue, {"now": True})
    raw = _peek_raw(env["AzureWebJobsStorage"], queue)
    assert [json.loads(base64.b64decode(r)) for r in raw] == [{"now": True}]


def test_enqueue_recreates_a_deleted_queue(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str]
) -> None:
    from azure.storage.queue import QueueClient

    queue = unique_name("q")
    rt.enqueue(queue, {"n": 1})
    QueueClient.from_connection_string(env["AzureWebJobsStorage"], queue).delete_queue()
    rt.enqueue(queue, {"n": 2})
    assert [json.loads(base64.b64decode(r)) for r in _peek_raw(env["AzureWebJobsStorage"], queue)] == [{"n": 2}]


def test_enqueue_rejects_oversized_messages(rt: AzureRuntime, unique_name: Callable[[str], str]) -> None:
    with pytest.raises(MessageTooLargeError, match="limit"):
        rt.enqueue(unique_name("q"), {"blob": "x" * 60_000})


def test_blob_store_round_trip(rt: AzureRuntime, unique_name: Callable[[str], str]) -> None:
    blobs = rt.blobs(unique_name("c"))
    assert list(blobs.list()) == []  # container does not exist yet
    assert not blobs.exists("a/b.json")
    blobs.write("runs/r1/manifest.json", b"{}")
    blobs.write("runs/r1/part0.csv", b"a,b\n1,2\n")
    blobs.write("runs/r2/part0.csv", b"x")
    blobs.write("runs/r1/part0.csv", b"a,b\n3,4\n")  # overwrite
    assert blobs.read("runs/r1/part0.csv") == b"a,b\n3,4\n"
    assert list(blobs.list("runs/r1/")) == ["runs/r1/manifest.json", "runs/r1/part0.csv"]
    assert list(blobs.list()) == ["runs/r1/manifest.json", "runs/r1/part0.csv", "runs/r2/part0.csv"]
    assert blobs.exists("runs/r2/part0.csv")
    blobs.delete("runs/r2/part0.csv")
    blobs.delete("runs/r2/part0.csv")  # idempotent
    assert not blobs.exists("runs/r2/part0.csv")
    with pytest.raises(FileNotFoundError, match=r"runs/r2/part0\.csv"):
        blobs.read("runs/r2/part0.csv")
    assert rt.blobs(blobs.container) is blobs


def test_state_store_is_azure_table(rt: AzureRuntime, env: dict[str, str]) -> None:
    from azure.data.tables import TableServiceClient

    store = rt.store
    assert store is rt.store
    assert store.add(Namespace.EVENTS, "evt-1", {"seen": True})
    assert not store.add(Namespace.EVENTS, "evt-1", {"seen": True})
    service = TableServiceClient.from_connection_string(env["AzureWebJobsStorage"])
    assert env["VIGIL_STATE_TABLE"] in [t.name for t in service.list_tables()]


def test_sqlite_state_when_configured(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "VIGIL_STATE": "sqlite", "VIGIL_STATE_PATH": str(tmp_path / "s.db")}
    runtime = AzureRuntime.from_env(env)
    try:
        runtime.store.put(Namespace.CHECKPOINTS, "k", {"v": 1})
        assert (tmp_path / "s.db").exists()
    finally:
        runtime.close()


def test_config_defaults_and_from_file(env: dict[str, str], tmp_path: Path) -> None:
    assert AzureRuntime.from_env(env).config.route.receiver == "default"
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("route:\n  receiver: ops\nreceivers:\n  - name: ops\n", encoding="utf-8")
    runtime = AzureRuntime.from_env({**env, "VIGIL_CONFIG": str(cfg)})
    assert runtime.config.route.receiver == "ops"
    assert runtime.config is runtime.config
    cfg.write_text("route:\n  receiver: ops\n  bogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"route\.bogus"):
        _ = AzureRuntime.from_env({**env, "VIGIL_CONFIG": str(cfg)}).config


def test_setting_reads_the_app_settings(rt: AzureRuntime) -> None:
    assert rt.setting("MY_SETTING") == "hello"
    assert rt.setting("EMPTY_SETTING", "dflt") == "dflt"
    assert rt.setting("ABSENT") is None
    assert rt.settings.ingest_queue == "vigil-ingest"
    # modelled settings fall back to the model's defaults, so handlers agree with the bindings
    assert rt.setting("DETECT_QUEUE") == "vigil-detect"
    assert rt.setting("DETECT_QUEUE", "other") == "vigil-detect"
    assert rt.setting("VIGIL_STATE") == "table"
    assert rt.setting("VIGIL_SIGNING_KEY", "fallback") == "fallback"
    keyed = AzureRuntime.from_env({"VIGIL_SIGNING_KEY": "s3cret", "DETECT_QUEUE": "d-q"})
    assert keyed.setting("VIGIL_SIGNING_KEY") == "s3cret"
    assert keyed.setting("DETECT_QUEUE") == "d-q"


def test_use_development_storage_expands_to_azurite() -> None:
    assert expand_connection_string("UseDevelopmentStorage=true") == AZURITE_CONNECTION_STRING
    assert expand_connection_string("UseDevelopmentStorage=true;") == AZURITE_CONNECTION_STRING
    assert expand_connection_string("AccountName=x;AccountKey=y") == "AccountName=x;AccountKey=y"
    rt = AzureRuntime(Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}))
    assert rt.connection_string() == AZURITE_CONNECTION_STRING


def test_identity_based_connection_uses_managed_identity() -> None:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    base = {
        "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net",
        "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
    }
    mi = AzureRuntime.from_env(
        {**base, "AzureWebJobsStorage__credential": "managedidentity", "AzureWebJobsStorage__clientId": "cid"}
    )
    assert mi.connection_string() is None
    assert isinstance(mi.credential, ManagedIdentityCredential)
    assert mi.credential is mi.credential
    blobs = mi.blobs("costs")  # builds the client; no network until used
    assert blobs.container == "costs"
    assert "acct.blob.core.windows.net" in blobs._client.url
    assert isinstance(AzureRuntime.from_env(base).credential, DefaultAzureCredential)
    injected = object()
    rt = AzureRuntime.from_env(base, credential=injected, azure_client_kwargs={"base_url": "https://x"})
    assert rt.credential is injected
    assert rt.azure_client_kwargs == {"base_url": "https://x"}
    assert AzureRuntime.from_env(base).azure_client_kwargs == {}


def test_missing_connection_is_a_clear_error() -> None:
    rt = AzureRuntime.from_env({})
    with pytest.raises(RuntimeError, match="AzureWebJobsStorage__queueServiceUri"):
        rt.enqueue("q-x", {"a": 1})
    with pytest.raises(RuntimeError, match="AzureWebJobsStorage__blobServiceUri"):
        rt.blobs("c-x")


def test_importing_runtime_modules_imports_no_azure_sdk() -> None:
    code = (
        "import sys, vigil.runtime_azure, vigil.runtime_local; "
        "print(','.join(m for m in sys.modules if m.startswith(('azure.storage', 'azure.identity', 'azure.data'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
