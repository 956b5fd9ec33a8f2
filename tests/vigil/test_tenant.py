"""TenantFolder: the offline source over a folder laid out as Azure returns data."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.sources import (
    ActivitySource,
    CostSource,
    EventSource,
    MetricsSource,
    ResourceSource,
    SourceError,
    resource_id_of_metric,
)
from vigil.tenant import TenantFolder

SUB = "00000000-1111-2222-3333-444444444444"
VM = f"/subscriptions/{SUB}/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/vm-1"


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _metric_body(rid: str) -> dict[str, Any]:
    return {
        "cost": 0,
        "timespan": "2026-11-01T00:00:00Z/2026-11-01T02:00:00Z",
        "interval": "PT1H",
        "value": [
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/Percentage CPU",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
                "unit": "Percent",
                "timeseries": [
                    {
                        "metadatavalues": [],
                        "data": [
                            {"timeStamp": "2026-11-01T00:00:00Z", "average": 1.5, "maximum": 4.0},
                            {"timeStamp": "2026-11-01T01:00:00Z"},
                        ],
                    }
                ],
            }
        ],
        "namespace": "Microsoft.Compute/virtualMachines",
        "resourceregion": "eastus",
    }


@pytest.fixture
def tenant(tmp_path: Path) -> TenantFolder:
    root = tmp_path / "tenant"
    _write(root / "resources" / "vm.json", {"id": VM, "type": "Microsoft.Compute/virtualMachines", "name": "vm-1"})
    _write(
        root / "resources" / "list.json",
        {
            "value": [
                {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
                 "type": "Microsoft.Storage/storageAccounts", "name": "st1"},
                {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip1",
                 "type": "Microsoft.Network/publicIPAddresses", "name": "ip1"},
            ],
            "nextLink": None,
        },
    )  # fmt: skip
    _write(root / "metrics" / "vm-1.json", _metric_body(VM))
    _write(
        root / "events" / "a.json",
        [{"id": "e1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": VM}],
    )
    _write(root / "events" / "b.json", {"id": "e2", "type": "Microsoft.Resources.ResourceDeleteSuccess"})
    _write(root / "activity" / "sub.json", {"value": [{"eventDataId": "a1", "caller": "x@contoso.com"}]})
    run = root / "exports" / "costs" / "daily" / "20261101-20261130" / "run-1"
    run.mkdir(parents=True)
    (run / "part_0_0001.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    _write(
        run / "manifest.json",
        {
            "manifestVersion": "2024-04-01",
            "exportConfig": {"exportName": "daily", "type": "FocusCost"},
            "runInfo": {"runId": "run-1", "submittedTime": "2026-11-02T00:00:00Z"},
            # stray spaces inside blobName, as in Microsoft's documented manifest example
            "blobs": [{"blobName": " costs/daily/20261101-20261130/ run-1/part_0_0001.csv.gz"}],
        },
    )
    return TenantFolder(root)


def test_implements_every_source_protocol(tenant: TenantFolder) -> None:
    for proto in (ResourceSource, MetricsSource, CostSource, EventSource, ActivitySource):
        assert isinstance(tenant, proto)


def test_resources_from_single_files_and_list_responses(tenant: TenantFolder) -> None:
    assert len(tenant.list()) == 3
    assert tenant.get(VM.upper()) is not None  # ARM ids are case-insensitive
    assert tenant.get(VM + "/") is not None
    assert tenant.get(VM.replace("vm-1", "nope")) is None
    storage = tenant.list(["microsoft.storage/storageaccounts"])
    assert [r["name"] for r in storage] == ["st1"]


def test_rest_spec_example_wrapper_is_unwrapped(tmp_path: Path, samples_dir: Path) -> None:
    root = tmp_path / "t"
    (root / "resources").mkdir(parents=True)
    for f in ("spec_ml_2025-09-01_Workspace_get.json", "spec_ml_2025-09-01_Compute_get_ComputeInstance.json"):
        shutil.copy(samples_dir / "arm" / f, root / "resources" / f)
    t = TenantFolder(root)
    ws = t.list(["Microsoft.MachineLearningServices/workspaces"])
    assert len(ws) == 1
    assert ws[0]["properties"]["publicNetworkAccess"] == "Disabled"
    assert len(t.list(["Microsoft.MachineLearningServices/workspaces/computes"])) == 1


def test_metrics_are_parsed_and_keyed_by_resource(tenant: TenantFolder) -> None:
    series = tenant.series(VM.lower())
    assert len(series) == 1
    cpu = series[0]
    assert cpu.name == "Percentage CPU"
    assert cpu.interval == "PT1H"
    assert cpu.points[0].maximum == 4.0
    assert cpu.points[1].average is None  # a grain without data keeps its timestamp
    assert tenant.series(VM, ["network out total"]) == []
    assert list(tenant.all_series()) == [VM.lower()]


def test_recorded_metrics_cassette_is_readable(tmp_path: Path, samples_dir: Path) -> None:
    root = tmp_path / "t"
    (root / "metrics").mkdir(parents=True)
    shutil.copy(samples_dir / "api" / "c7n_vm_metrics_PercentageCPU_P1D.real.json", root / "metrics" / "vm.json")
    t = TenantFolder(root)
    (rid,) = t.all_series()
    assert rid.endswith("/virtualmachines/cctestvm")
    (series,) = t.series(rid)
    assert series.interval == "P1D"
    assert series.points[0].average == pytest.approx(3.1704730617608408)


def test_metric_id_to_resource_id() -> None:
    assert resource_id_of_metric(f"{VM}/providers/Microsoft.Insights/metrics/Percentage CPU") == VM.lower()


def test_events_in_file_order_arrays_and_single_objects(tenant: TenantFolder) -> None:
    assert [e["id"] for e in tenant.events()] == ["e1", "e2"]


def test_activity_entries(tenant: TenantFolder) -> None:
    assert [a["eventDataId"] for a in tenant.entries()] == ["a1"]


def test_export_runs_resolve_manifest_blob_names(tenant: TenantFolder) -> None:
    (run,) = tenant.runs()
    assert run.run_id == "run-1"
    assert run.export_name == "daily"
    assert run.dataset == "FocusCost"
    assert [p.name for p in run.part_paths] == ["part_0_0001.csv.gz"]
    assert run.part_paths[0].is_file()


def test_missing_part_names_manifest_and_blob(tenant: TenantFolder) -> None:
    (run,) = tenant.runs()
    run.part_paths[0].unlink()
    with pytest.raises(SourceError, match=r"manifest\.json: blobs\[0\]\.blobName .* not found"):
        tenant.runs()


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "resources").mkdir(parents=True)
    (root / "resources" / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match=r"broken\.json: invalid JSON"):
        TenantFolder(root).list()


def test_resource_without_id_names_file_and_index(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _write(root / "resources" / "list.json", {"value": [{"id": VM}, {"name": "no-id"}]})
    with pytest.raises(SourceError, match=r"list\.json: resource \[1\] has no string 'id'"):
        TenantFolder(root).list()


def test_malformed_metrics_name_the_field(tmp_path: Path) -> None:
    root = tmp_path / "t"
    body = _metric_body(VM)
    body["value"][0]["timeseries"][0]["data"][0]["timeStamp"] = "yesterday"
    _write(root / "metrics" / "m.json", body)
    with pytest.raises(SourceError, match=r"m\.json: value\[0\]\.timeseries\[0\]\.data\[0\]: timeStamp"):
        TenantFolder(root).all_series()


def test_not_a_tenant_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        TenantFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="not a tenant folder"):
        TenantFolder(tmp_path / "empty")


def test_now_from_tenant_json(tmp_path: Path, tenant: TenantFolder) -> None:
    assert tenant.now is None
    _write(tenant.root / "tenant.json", {"now": "2026-11-25T00:00:00Z"})
    assert TenantFolder(tenant.root).now is not None
    _write(tenant.root / "tenant.json", {"now": "soon"})
    with pytest.raises(SourceError, match=r"tenant\.json"):
        _ = TenantFolder(tenant.root).now
