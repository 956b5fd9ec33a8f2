"""Function path on Azurite: a real-layout partitioned export is uploaded, the BlobCreated event for its
manifest.json is delivered, each part message is processed by its own (shuffled, duplicated) invocation,
and exactly one invocation completes the run and triggers detection for the days covered."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ingest.cost import ingest_part, load_costs, plan_parts
from ingest.cost.store import CostStore
from tests.support.azurite import host_settings
from vigil import handlers
from vigil.runtime_azure import AzureRuntime

pytestmark = pytest.mark.azurite

RUN_ID = "6b2f6d3c-1111-4a5e-9c1e-0c2b0e1d2a01"
PREFIX = f"exports/focus-daily/20240501-20240531/{RUN_ID}"


@pytest.fixture
def env(azurite: Any) -> dict[str, str]:
    return host_settings(azurite.connection_string)


@pytest.fixture
def rt(env: dict[str, str]) -> Iterator[AzureRuntime]:
    runtime = AzureRuntime.from_env(env)
    yield runtime
    runtime.close()


def _upload_export(rt: AzureRuntime, env: dict[str, str], folder: Path, prefix: str, manifest: dict[str, Any]) -> None:
    blobs = rt.blobs(env["EXPORTS_CONTAINER"])
    for part in sorted(folder.glob("part_*")):
        if any(b["blobName"].rstrip().endswith(part.name) for b in manifest["blobs"]):
            blobs.write(f"{prefix}/{part.name}", part.read_bytes())
    blobs.write(f"{prefix}/manifest.json", json.dumps(manifest).encode())  # the manifest lands last


def _blob_created(env: dict[str, str], path: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
        "Microsoft.Storage/storageAccounts/sa",
        "subject": f"/blobServices/default/containers/{env['EXPORTS_CONTAINER']}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2024-05-21T06:10:00Z",
        "data": {"api": "PutBlob", "contentType": "application/json", "blobType": "BlockBlob"},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def _drain(env: dict[str, str], queue: str) -> list[dict[str, Any]]:
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(env["AzureWebJobsStorage"], queue)
    out = []
    while True:
        batch = list(client.receive_messages(max_messages=32, visibility_timeout=60))
        if not batch:
            return out
        for m in batch:
            out.append(json.loads(base64.b64decode(m.content)))
            client.delete_message(m)


def _totals(rt: AzureRuntime, env: dict[str, str]) -> tuple[Decimal, Decimal, int]:
    df = load_costs(rt.blobs(env["COSTS_CONTAINER"]))
    store = CostStore(rt.blobs(env["COSTS_CONTAINER"]))
    billed = sum((Decimal(p[1]["billed_cost"]["USD"]) for p in store.partitions()), Decimal(0))
    effective = sum((Decimal(p[1]["effective_cost"]["USD"]) for p in store.partitions()), Decimal(0))
    assert df.BilledCost.sum() == pytest.approx(float(billed), abs=1e-6)
    return billed, effective, len(df)


def test_blob_created_to_stored_costs_exactly_once(
    rt: AzureRuntime, env: dict[str, str], fixtures_dir: Path, expected: dict[str, Any]
) -> None:
    exp = expected["export/manifest"]
    folder = (fixtures_dir / exp["path"]).parent
    manifest = json.loads((folder / "manifest.json").read_text())
    _upload_export(rt, env, folder, PREFIX, manifest)

    event = _blob_created(env, f"{PREFIX}/manifest.json")
    assert handlers.handle_blob_created([event], rt)["parts_enqueued"] == 3
    assert handlers.handle_blob_created([event], rt)["parts_enqueued"] == 0  # redelivered event
    messages = _drain(env, env["INGEST_QUEUE"])
    assert len(messages) == 3
    assert {m["part_index"] for m in messages} == {0, 1, 2}

    deliveries = [*messages, messages[0], messages[2]]  # at-least-once: duplicates
    random.Random(3).shuffle(deliveries)
    results = [handlers.handle_ingest_part(m, rt) for m in deliveries]
    complete = [r for r in results if r.get("run_complete")]
    assert len(complete) == 1
    assert complete[0]["days"] == exp["days"]
    assert complete[0]["scope"] == "8611537"
    assert complete[0]["month"] == "2024-05"
    assert sum(1 for r in results if r.get("duplicate")) == 2

    detect = _drain(env, env["DETECT_QUEUE"])
    assert len(detect) == 1
    assert detect[0]["days"] == exp["days"]

    billed, effective, rows = _totals(rt, env)
    assert billed == Decimal(exp["billed_cost"]["USD"])
    assert effective == Decimal(exp["effective_cost"]["USD"])
    assert rows == exp["rows"]

    # every redelivery after completion changes nothing
    for m in messages:
        assert handlers.handle_ingest_part(m, rt).get("duplicate")
    assert _totals(rt, env) == (billed, effective, rows)
    assert _drain(env, env["DETECT_QUEUE"]) == []


def test_newer_run_replaces_and_crash_mid_run_keeps_previous(
    rt: AzureRuntime, env: dict[str, str], fixtures_dir: Path, expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    exp = expected["export/manifest"]
    folder = (fixtures_dir / exp["path"]).parent
    manifest = json.loads((folder / "manifest.json").read_text())
    src = rt.blobs(env["EXPORTS_CONTAINER"])
    dest = rt.blobs(env["COSTS_CONTAINER"])
    _upload_export(rt, env, folder, PREFIX, manifest)
    for m in plan_parts(src.read(f"{PREFIX}/manifest.json"), f"{PREFIX}/manifest.json"):
        ingest_part(m, src, dest, rt.store)
    full = _totals(rt, env)

    # run 2 (newer, one part only) replaces run 1 for the month
    run2 = dict(manifest, runInfo={**manifest["runInfo"], "runId": "run-2", "submittedTime": "2024-05-22T06:00:00Z"})
    run2["blobs"] = [{"blobName": "exports/focus-daily/20240501-20240531/run-2/part_0_0001.csv.gz"}]
    _upload_export(rt, env, folder, "exports/focus-daily/20240501-20240531/run-2", run2)
    msgs2 = plan_parts(
        src.read("exports/focus-daily/20240501-20240531/run-2/manifest.json"),
        "exports/focus-daily/20240501-20240531/run-2/manifest.json",
    )
    assert ingest_part(msgs2[0], src, dest, rt.store)["run_complete"]
    after2 = _totals(rt, env)
    assert after2[2] == 6
    assert after2[0] < full[0]
    assert set(load_costs(dest).x_SourceRunId) == {"run-2"}
    assert not any("/runs/" + RUN_ID.lower() in p for p in dest.list())  # replaced run's files removed

    # run 3 crashes: two of three parts done, then the swap itself fails once
    run3 = dict(manifest, runInfo={**manifest["runInfo"], "runId": "run-3", "submittedTime": "2024-05-23T06:00:00Z"})
    run3["blobs"] = [{"blobName": b["blobName"].replace(RUN_ID, "run-3")} for b in manifest["blobs"]]
    _upload_export(rt, env, folder, "exports/focus-daily/20240501-20240531/run-3", run3)
    path3 = "exports/focus-daily/20240501-20240531/run-3/manifest.json"
    msgs3 = plan_parts(src.read(path3), path3)
    assert not ingest_part(msgs3[0], src, dest, rt.store)["run_complete"]
    assert not ingest_part(msgs3[1], src, dest, rt.store)["run_complete"]
    assert _totals(rt, env) == after2  # half-written run is invisible

    calls = {"n": 0}
    real_swap = CostStore.swap

    def flaky_swap(self: CostStore, part: Any, pointer: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("storage went away mid-swap")
        return real_swap(self, part, pointer)

    monkeypatch.setattr(CostStore, "swap", flaky_swap)
    with pytest.raises(ConnectionError):
        ingest_part(msgs3[2], src, dest, rt.store)
    assert _totals(rt, env) == after2
    done = ingest_part(msgs3[2], src, dest, rt.store)  # the platform retries the message
    assert done["run_complete"]
    assert _totals(rt, env) == full  # run 3 holds the same three parts as run 1
    assert set(load_costs(dest).x_SourceRunId) == {"run-3"}
