"""Row 5: manifest ``blobName`` traversal, the container from the event, and file contents in errors.

The attack as the review ran it, on Azurite with the real Storage SDK: a manifest in the exports
container lists ``../<secrets container>/host.csv``; the SDK collapses ``..`` and the host's secrets
were read, their first fields echoed into the log and the checkpoint row. And an event (or a forged
queue message) naming another container was followed. Here each is refused before any read, and no
secret reaches a log, a message or the state store. The tenant folder (CLI path) is held to its
export root the same way, symlinks included.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.sources import SourceError
from core.state.base import Namespace
from tests.support.azurite import host_settings
from vigil import handlers
from vigil.runtime_azure import AzureRuntime
from vigil.tenant import TenantFolder

pytestmark = pytest.mark.azurite

SECRET = "AccountKey=c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYWs="
RUN = "6b2f6d3c-1111-4a5e-9c1e-0c2b0e1d2a01"


@pytest.fixture
def env(azurite: Any) -> dict[str, str]:
    return host_settings(azurite.connection_string)


@pytest.fixture
def rt(env: dict[str, str]) -> Iterator[AzureRuntime]:
    runtime = AzureRuntime.from_env(env)
    yield runtime
    runtime.close()


def _event(container: str, path: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "subject": f"/blobServices/default/containers/{container}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2024-05-21T06:10:00Z",
        "data": {"api": "PutBlob"},
    }


def _secrets(rt: AzureRuntime, unique_name: Callable[[str], str]) -> str:
    container = unique_name("secrets")
    rt.blobs(container).write("host.csv", f"{SECRET},Date,Cost\n1,2,3\n".encode())
    rt.blobs(container).write("manifest.json", json.dumps({"blobs": [{"blobName": "host.csv"}]}).encode())
    return container


def _no_secret_anywhere(rt: AzureRuntime, env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    assert SECRET not in caplog.text
    assert "AccountKey" not in caplog.text
    for rec in rt.store.query(Namespace.CHECKPOINTS):
        assert "AccountKey" not in json.dumps(rec.value)
    assert not any(p.startswith("_quarantine") for p in rt.blobs(env["COSTS_CONTAINER"]).list(""))


def test_a_manifest_blob_name_with_dotdot_is_refused(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = _secrets(rt, unique_name)
    prefix = f"exports/daily/{RUN}"
    manifest = {"runInfo": {"runId": RUN}, "blobs": [{"blobName": f"../{secrets}/host.csv"}]}
    rt.blobs(env["EXPORTS_CONTAINER"]).write(f"{prefix}/manifest.json", json.dumps(manifest).encode())
    out = handlers.handle_blob_created([_event(env["EXPORTS_CONTAINER"], f"{prefix}/manifest.json")], rt)
    assert out["parts_enqueued"] == 0
    assert "'..' segment" in caplog.text
    _no_secret_anywhere(rt, env, caplog)


def test_an_event_naming_another_container_is_refused(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = _secrets(rt, unique_name)
    out = handlers.handle_blob_created([_event(secrets, "manifest.json")], rt)
    assert out == {"parts_enqueued": 0, "skipped": 1}
    assert "not the configured exports container" in caplog.text
    for path in ("../x/manifest.json", "a//manifest.json", "a/./manifest.json", "a\\..\\manifest.json"):
        out = handlers.handle_blob_created([_event(env["EXPORTS_CONTAINER"], path)], rt)
        assert out["parts_enqueued"] == 0, path
    _no_secret_anywhere(rt, env, caplog)


def test_a_forged_part_message_reads_only_the_configured_container(
    rt: AzureRuntime, env: dict[str, str], unique_name: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = _secrets(rt, unique_name)
    base = {
        "type": "cost-part",
        "run_id": RUN,
        "part_count": 1,
        "part_index": 0,
        "submitted": "",
    }
    # The container field is ignored: the part is looked for in the configured exports container only.
    forged = {**base, "container": secrets, "manifest_path": "manifest.json", "part": "host.csv"}
    from ingest.cost.parts import PartNotIngestedError

    # A part that cannot be read raises (the platform redelivers, then poisons the message).
    with pytest.raises(PartNotIngestedError, match=r"host\.csv: part not found"):
        handlers.handle_ingest_part(forged, rt)
    # A traversal in the message's names is refused before any read.
    refused = handlers.handle_ingest_part(
        {**base, "run_id": f"{RUN}-2", "manifest_path": f"../{secrets}/m.json", "part": f"../{secrets}/host.csv"}, rt
    )
    assert "'..' segment" in refused["refused"]
    _no_secret_anywhere(rt, env, caplog)


def _tenant(tmp_path: Path, blob_name: str) -> TenantFolder:
    root = tmp_path / "tenant"
    run = root / "exports" / "daily" / RUN
    run.mkdir(parents=True)
    (tmp_path / "secret.csv").write_text(f"{SECRET},Date,Cost\n", encoding="utf-8")
    (run / "manifest.json").write_text(json.dumps({"blobs": [{"blobName": blob_name}]}), encoding="utf-8")
    return TenantFolder(root)


@pytest.mark.parametrize("name", ["../../secret.csv", "daily/../../../secret.csv", "/../../secret.csv"])
def test_a_tenant_folder_blob_name_cannot_leave_the_export_root(tmp_path: Path, name: str) -> None:
    with pytest.raises(SourceError) as info:
        _tenant(tmp_path, name).runs()
    assert SECRET not in str(info.value)


def test_a_symlink_out_of_the_export_root_is_refused(tmp_path: Path) -> None:
    tenant = _tenant(tmp_path, "daily/link.csv")
    (tmp_path / "tenant" / "exports" / "daily" / "link.csv").symlink_to(tmp_path / "secret.csv")
    with pytest.raises(SourceError, match="outside"):
        tenant.runs()


def test_a_tenant_folder_part_inside_the_root_is_found(tmp_path: Path) -> None:
    """Not vacuous: an ordinary blob name inside the root resolves."""
    tenant = _tenant(tmp_path, f"daily/{RUN}/part_0_0001.csv")
    (tmp_path / "tenant" / "exports" / "daily" / RUN / "part_0_0001.csv").write_text("Date,Cost\n", encoding="utf-8")
    [run] = tenant.runs()
    assert run.part_paths[0].name == "part_0_0001.csv"
