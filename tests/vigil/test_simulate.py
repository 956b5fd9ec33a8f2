"""The simulator: deterministic, and its output is read by the real readers in real formats."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.sources import parse_metrics_response
from core.timeutil import parse_utc
from ingest.cost import ingest_paths, load_costs
from ingest.events import parse_events
from vigil.simulate import DEFAULT_NOW, EA_COLUMNS, FOCUS_COLUMNS, SimResult, simulate
from vigil.tenant import TenantFolder


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(tmp_path_factory.mktemp("sim") / "tenant")


def test_same_seed_gives_identical_bytes(tmp_path: Path, sim: SimResult) -> None:
    again = simulate(tmp_path / "again")
    assert _digest_tree(again.root) == _digest_tree(sim.root)


def test_other_seed_or_now_gives_other_data(tmp_path: Path, sim: SimResult) -> None:
    other = simulate(tmp_path / "seed8", seed=8)
    assert _digest_tree(other.root) != _digest_tree(sim.root)
    later = simulate(tmp_path / "later", now=DEFAULT_NOW + timedelta(days=3))
    assert json.loads((later.root / "tenant.json").read_text())["now"] == "2026-11-28T00:00:00Z"


def test_refuses_to_overwrite_a_non_empty_folder(sim: SimResult) -> None:
    with pytest.raises(FileExistsError):
        simulate(sim.root)


def test_shape_three_subscriptions_about_fifty_resources(sim: SimResult) -> None:
    assert len(sim.subscriptions) == 3
    assert 40 <= sim.resources <= 60
    tenant = TenantFolder(sim.root)
    types = {str(r["type"]).lower() for r in tenant.list()}
    for t in (
        "microsoft.compute/virtualmachines",
        "microsoft.machinelearningservices/workspaces",
        "microsoft.machinelearningservices/workspaces/computes",
        "microsoft.storage/storageaccounts",
        "microsoft.compute/disks",
        "microsoft.network/publicipaddresses",
    ):
        assert t in types, t
    assert tenant.now == DEFAULT_NOW


def test_vm_and_ml_compute_arm_shapes(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    vm = tenant.get(sim.planted["idle_vm"])
    assert vm is not None
    codes = [s["code"] for s in vm["properties"]["instanceView"]["statuses"]]
    assert "PowerState/running" in codes
    computes = tenant.list(["Microsoft.MachineLearningServices/workspaces/computes"])
    kinds = {c["properties"]["computeType"] for c in computes}
    assert kinds == {"ComputeInstance", "AmlCompute"}
    ci = [c for c in computes if c["properties"]["computeType"] == "ComputeInstance"]
    assert any("idleTimeBeforeShutdown" in c["properties"]["properties"] for c in ci)
    assert any("idleTimeBeforeShutdown" not in c["properties"]["properties"] for c in ci)


def test_ea_export_is_the_real_ea_layout(sim: SimResult, samples_dir: Path) -> None:
    sample = (samples_dir / "cost" / "EA_ActualCost_Small.csv").read_bytes()
    sample_header = next(csv.reader(io.StringIO(sample.decode("utf-8-sig"))))
    assert tuple(sample_header) == EA_COLUMNS
    part = next(p for p in sorted(sim.root.rglob("part_*.csv.gz")))
    raw = gzip.decompress(part.read_bytes())
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, as real EA exports
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == EA_COLUMNS
    datetime.strptime(rows[0]["Date"], "%m/%d/%Y")
    assert not rows[0]["Tags"].startswith("{")  # EA tags come without the outer braces


def test_focus_export_has_the_focus_1_0_columns(sim: SimResult, samples_dir: Path) -> None:
    schema = json.loads((samples_dir / "cost" / "schemas" / "focuscost_1.0.json").read_text())
    names = tuple(m["source"]["name"] for m in schema["translator"]["mappings"])
    assert names == FOCUS_COLUMNS
    part = next(p for p in sorted(sim.root.rglob("part_*.csv")))
    header = next(csv.reader(io.StringIO(part.read_text(encoding="utf-8"))))
    assert tuple(header) == FOCUS_COLUMNS


def test_manifests_match_their_parts(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    runs = tenant.runs()
    assert {r.dataset for r in runs} == {"ActualCost", "FocusCost"}
    assert any(len(r.part_paths) > 1 for r in runs), "some runs are partitioned into several parts"
    for run in runs:
        m = run.manifest
        assert m["manifestVersion"] == "2024-04-01"
        assert m["blobCount"] == len(run.part_paths)
        for blob, path in zip(m["blobs"], run.part_paths, strict=True):
            assert blob["byteCount"] == path.stat().st_size
        rel = run.manifest_path.parent.relative_to(tenant.exports_root).parts
        assert len(rel) == 4  # <dir>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>
        assert rel[3] == run.run_id
        start, end = rel[2].split("-")
        assert len(start) == len(end) == 8


def test_real_cost_reader_ingests_every_row(sim: SimResult, tmp_path: Path) -> None:
    runs = TenantFolder(sim.root).runs()
    expected = sum(int(r.manifest["dataRowCount"]) for r in runs)
    summary = ingest_paths([r.manifest_path for r in runs], tmp_path / "data")
    assert summary.files_failed == 0
    assert summary.rows_rejected == 0
    assert summary.rows == expected == sim.cost_rows
    costs = load_costs(tmp_path / "data")
    assert len(costs) == expected
    assert set(costs["SubAccountId"].dropna().unique()) == set(sim.subscriptions)


def test_planted_cost_spike_is_about_five_fold(sim: SimResult, tmp_path: Path) -> None:
    runs = TenantFolder(sim.root).runs()
    ingest_paths([r.manifest_path for r in runs], tmp_path / "data")
    costs = load_costs(tmp_path / "data")
    spike = costs[costs["ResourceId"] == sim.planted["cost_spike"].lower()]
    daily = spike.groupby(spike["ChargePeriodStart"].dt.date)["BilledCost"].sum().sort_index()
    last_two = daily.iloc[-2:]
    before = statistics.median(daily.iloc[-30:-2])
    assert all(4.0 <= v / before <= 6.0 for v in last_two)
    by_resource = costs[costs["ChargePeriodStart"] >= DEFAULT_NOW - timedelta(days=2)].groupby("ResourceId")
    increase = by_resource["BilledCost"].sum()
    assert increase.idxmax() == sim.planted["cost_spike"].lower()


def test_metrics_are_azure_monitor_responses(sim: SimResult, samples_dir: Path) -> None:
    cassette = json.loads((samples_dir / "api" / "c7n_vm_metrics_PercentageCPU_P1D.real.json").read_text())
    real_keys = set(cassette["response_body"])
    files = sorted((sim.root / "metrics").rglob("*.json"))
    assert len(files) == sim.metric_files
    vm_files = [f for f in files if f.name.startswith("vm-")]
    body = json.loads(vm_files[0].read_text())
    assert real_keys <= set(body)
    series = parse_metrics_response(body, source=str(vm_files[0]))
    assert {s.name for s in series} == {"Percentage CPU", "Network Out Total"}
    assert all(s.interval == "PT1H" for s in series)


def test_ml_compute_instances_report_through_their_workspace(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    by_ws = tenant.all_series(["CpuUtilizationPercentage"])
    instances = [
        c["id"].lower()
        for c in tenant.list(["Microsoft.MachineLearningServices/workspaces/computes"])
        if c["properties"]["computeType"] == "ComputeInstance"
    ]
    assert len(by_ws) == 3
    assert len(instances) == 4
    for cid in instances:
        ws_id, _, name = cid.rpartition("/computes/")
        (series,) = [s for s in by_ws[ws_id] if s.dimensions == {"ComputeName": name}]
        assert series.interval == "PT1H"
        assert any(p.average is not None for p in series.points)


def test_planted_idle_ml_instance_runs_at_near_zero_cpu_and_gpu(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    ci_id = sim.planted["idle_ml_instance"]
    ci = tenant.get(ci_id)
    assert ci is not None
    inner = ci["properties"]["properties"]
    assert (ci["properties"]["computeType"], inner["state"], inner["vmSize"]) == (
        "ComputeInstance",
        "Running",
        "Standard_NC6s_v3",
    )
    ws_id, _, name = ci_id.lower().rpartition("/computes/")
    series = {s.name: s for s in tenant.series(ws_id) if s.dimensions == {"ComputeName": name}}
    assert set(series) == {"CpuUtilizationPercentage", "GpuUtilizationPercentage"}
    cpu, gpu = series["CpuUtilizationPercentage"].points, series["GpuUtilizationPercentage"].points
    assert len(cpu) == len(gpu) == 30 * 24  # every hour: it never stops
    assert all(0.2 <= (p.average or 0) <= 1.5 and (p.maximum or 0) < 3 for p in cpu)
    assert all(0 <= (p.average or 0) <= 1 and (p.maximum or 0) <= 1 for p in gpu)
    # Only the idle GPU instance reports GPU utilisation; it is billed every day in its subscription's export.
    assert [s.dimensions for s in tenant.all_series(["GpuUtilizationPercentage"])[ws_id]] == [{"ComputeName": name}]


def test_idle_vm_is_below_one_percent_for_fourteen_days(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    cpu = tenant.series(sim.planted["idle_vm"], ["Percentage CPU"])[0]
    since = DEFAULT_NOW - timedelta(days=14)
    recent = [p.average for p in cpu.points if p.timestamp >= since]
    assert len(recent) == 14 * 24
    assert max(v for v in recent if v is not None) < 1.0


def test_drift_event_has_the_real_event_grid_layout(sim: SimResult, samples_dir: Path) -> None:
    sample = json.loads((samples_dir / "eventgrid" / "docs_ResourceWriteSuccess.eventgridschema.json").read_text())[0]
    tenant = TenantFolder(sim.root)
    events = list(tenant.events())
    drift = [e for e in events if e["subject"] == sim.planted["drift_workspace"]]
    assert len(drift) == 1
    event = drift[0]
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert set(sample) <= set(event)
    assert set(sample["data"]) <= set(event["data"])
    # Optional claims (group overage, on-premises SID, device id) may be absent from a real token too.
    optional = {"_claim_names", "_claim_sources", "onprem_sid", "e_exp"}
    optional.add("http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier")
    assert set(sample["data"]["claims"]) - optional <= set(event["data"]["claims"])
    assert event["data"]["claims"]["name"]
    assert "@" in event["data"]["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]
    parsed = parse_events(events)
    assert not parsed.quarantined
    ws = tenant.get(sim.planted["drift_workspace"])
    assert ws is not None
    assert ws["properties"]["publicNetworkAccess"] == "Enabled"
    activity = [a for a in tenant.entries() if a["correlationId"] == event["data"]["correlationId"]]
    assert len(activity) == 1
    assert activity[0]["caller"] == event["data"]["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]


def test_events_and_activity_are_time_ordered_by_source(sim: SimResult) -> None:
    tenant = TenantFolder(sim.root)
    times = [parse_utc(e["eventTime"]) for e in tenant.events()]
    assert times == sorted(times)
    assert all(t < DEFAULT_NOW for t in times)
    assert all(t.tzinfo is UTC or t.utcoffset() == timedelta(0) for t in times)
