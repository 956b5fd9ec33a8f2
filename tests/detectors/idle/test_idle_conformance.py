"""Conformance: every idle rule with fixtures just above and just below each threshold.

Each case builds ARM resources and hourly Azure Monitor series ending at NOW, runs the
real ``detect`` and checks the one finding of the rule under test. Every case runs twice:
on series with points only (the per-point path) and on the same series with the columns
the parser attaches (the vectorised path).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from core.costframe import column_names, pandas_dtypes
from core.model import Finding, Status
from core.sources import MetricPoint, MetricSeries, with_columns
from detectors.base import load_meta
from detectors.config import IdleConfig
from detectors.idle.detect import RULES, detect
from detectors.registry import family_folders

NOW = datetime(2026, 11, 25, 6, tzinfo=UTC)
SUB = "/subscriptions/sub-1/resourcegroups/rg/providers"
VM = f"{SUB}/microsoft.compute/virtualmachines/vm-1"
WS = f"{SUB}/microsoft.machinelearningservices/workspaces/mlw"
CI = f"{WS}/computes/ci-gpu"
CLUSTER = f"{WS}/computes/cluster-a"
DISK = f"{SUB}/microsoft.compute/disks/disk-1"
PIP = f"{SUB}/microsoft.network/publicipaddresses/pip-1"

Fn = Callable[[int], float | None]


def hourly(rid: str, name: str, fn: Fn, *, agg: str = "average", hours: int = 14 * 24, **dims: str) -> MetricSeries:
    """An hourly series ending at NOW; ``fn`` gets the hour counted back from NOW (0 = the last hour)."""
    start = NOW - timedelta(hours=hours)
    pts = []
    for i in range(hours):
        v = fn(hours - 1 - i)
        pts.append(MetricPoint(start + timedelta(hours=i), **{agg: v}))
    return MetricSeries(rid, name, "", "PT1H", tuple(pts), dims)


def cpu(rid: str, avg: Fn, mx: Fn | None = None) -> list[MetricSeries]:
    start = NOW - timedelta(hours=14 * 24)
    pts = []
    for i in range(14 * 24):
        back = 14 * 24 - 1 - i
        a = avg(back)
        m = mx(back) if mx else a
        pts.append(MetricPoint(start + timedelta(hours=i), average=a, maximum=m))
    return [MetricSeries(rid, "Percentage CPU", "Percent", "PT1H", tuple(pts))]


def vm(power: str | None = "running", size: str = "Standard_D4s_v3", rid: str = VM) -> dict[str, Any]:
    props: dict[str, Any] = {"hardwareProfile": {"vmSize": size}}
    if power:
        props["instanceView"] = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}]}
    return {"id": rid, "type": "Microsoft.Compute/virtualMachines", "location": "eastus", "properties": props}


_PATH = {"columns": False}


@pytest.fixture(autouse=True, params=["points", "columns"])
def metric_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the case on points-only series, then on series carrying their columns."""
    monkeypatch.setitem(_PATH, "columns", request.param == "columns")
    return str(request.param)


def run(
    resources: list[dict[str, Any]],
    metrics: dict[str, list[MetricSeries]] | None = None,
    costs: Any = None,
    previous: Any = None,
    **cfg: Any,
) -> list[Finding]:
    series = metrics or {}
    if _PATH["columns"]:
        series = {rid: [with_columns(s) for s in ss] for rid, ss in series.items()}
    return detect(
        resources=resources,
        metrics=series,
        costs=costs,
        config=IdleConfig(**cfg),
        now=NOW,
        previous=previous,
    )


def one(findings: list[Finding], rule: str) -> Finding:
    (f,) = [f for f in findings if f.rule == rule]
    return f


def none_of(findings: list[Finding], rule: str) -> bool:
    return not [f for f in findings if f.rule == rule]


def costs_for(rid: str, daily: float, days: int = 30) -> pd.DataFrame:
    rows = []
    for d in range(days):
        start = (NOW - timedelta(days=d + 1)).replace(hour=0)
        row: dict[str, Any] = dict.fromkeys(column_names())
        row.update(
            ChargePeriodStart=start,
            ChargePeriodEnd=start + timedelta(days=1),
            BilledCost=daily,
            EffectiveCost=daily,
            BillingCurrency="EUR",
            ResourceId=rid.upper(),  # the join is case-insensitive
            x_SourceRunId="run",
            x_SourceFile="f.csv",
        )
        rows.append(row)
    return pd.DataFrame(rows).astype(pandas_dtypes())


# ------------------------------------------------------------------ registry / metadata


def test_every_listed_rule_has_metadata_and_a_check() -> None:
    folders = family_folders("idle")
    assert {f.name for f in folders} == set(RULES)
    for folder in folders:
        meta = load_meta(folder, "idle")
        assert meta.extra.get("source"), meta.id
        keys = meta.extra.get("config_keys", [])
        assert isinstance(keys, list)
        for key in keys:
            assert key in IdleConfig.model_fields, (meta.id, key)
    actions = {load_meta(f, "idle").id: load_meta(f, "idle").extra.get("remediation_action") for f in folders}
    assert actions["vm_shutdown_candidate"] == "deallocate_vm"
    assert actions["ml_compute_instance_idle"] == "stop_ml_compute_instance"
    assert actions["ml_cluster_idle_nodes"] == "scale_ml_cluster_to_zero"


def test_every_threshold_default_names_its_source() -> None:
    for name, field in IdleConfig.model_fields.items():
        if name in {"enabled", "hours_per_month"}:
            continue
        assert field.description, name
        assert field.description.startswith("["), name


# ------------------------------------------------------------------ vm_shutdown_candidate


def shutdown(avg: Fn, mx: Fn, net: Fn = lambda h: 1e6, **cfg: Any) -> Finding:
    metrics = {VM: [*cpu(VM, avg, mx), hourly(VM, "Network Out Total", net, agg="total")]}
    return one(run([vm()], metrics, **cfg), "vm_shutdown_candidate")


def test_shutdown_p95_of_max_cpu_just_below_and_at_3() -> None:
    assert shutdown(lambda h: 0.5, lambda h: 2.999).status is Status.FIRING
    assert shutdown(lambda h: 0.5, lambda h: 3.0).status is Status.RESOLVED


def test_shutdown_p95_is_a_95th_percentile_not_a_max() -> None:
    # 8 of 168 hours (4.8 %) at 50 % max CPU: P95 still below 3 %; 10 hours (6 %) lift it.
    assert shutdown(lambda h: 0.5, lambda h: 50.0 if h < 8 else 1.0).status is Status.FIRING
    assert shutdown(lambda h: 0.5, lambda h: 50.0 if h < 10 else 1.0).status is Status.RESOLVED


def test_shutdown_recent_average_just_at_and_above_2() -> None:
    assert shutdown(lambda h: 2.0 if h == 10 else 0.3, lambda h: 2.5).status is Status.FIRING
    f = shutdown(lambda h: 2.001 if h == 10 else 0.3, lambda h: 2.5)
    assert f.status is Status.RESOLVED
    # An hour above 2 % average older than the 3 recent days does not count.
    assert shutdown(lambda h: 2.5 if h == 3 * 24 + 1 else 0.3, lambda h: 2.6).status is Status.FIRING


def test_shutdown_network_just_below_and_above_2_percent_of_bandwidth() -> None:
    # D4s_v3: 2000 Mbit/s; 2 % = 40 Mbit/s = 18e9 bytes per hour.
    limit = 40e6 / 8 * 3600
    assert shutdown(lambda h: 0.3, lambda h: 1.0, net=lambda h: limit * 0.999).status is Status.FIRING
    f = shutdown(lambda h: 0.3, lambda h: 1.0, net=lambda h: limit * 1.001)
    assert f.status is Status.RESOLVED
    assert f.evidence["network_bandwidth_mbps"] == 2000.0


def test_shutdown_missing_points_are_gaps_not_zeros() -> None:
    # 1 hour in 6 has no value (points without values, as Azure returns them): still judged.
    f = shutdown(lambda h: None if h % 6 == 0 else 0.3, lambda h: None if h % 6 == 0 else 1.0)
    assert f.status is Status.FIRING
    assert f.evidence["cpu_hours"] == 168 - 28
    # 25 % missing: below min_coverage 0.8, no verdict at all.
    net = hourly(VM, "Network Out Total", lambda h: 1.0, agg="total")
    metrics = {VM: [*cpu(VM, lambda h: None if h % 4 == 0 else 0.3), net]}
    assert none_of(run([vm()], metrics), "vm_shutdown_candidate")


def test_shutdown_thresholds_come_from_config() -> None:
    assert shutdown(lambda h: 0.5, lambda h: 3.5, cpu_p95_max_percent=4).status is Status.FIRING


# ------------------------------------------------------------------ vm_rightsize_candidate


def rightsize(mx: Fn, **cfg: Any) -> Finding:
    metrics = {VM: [*cpu(VM, lambda h: 10.0, mx), hourly(VM, "Network Out Total", lambda h: 5e9, agg="total")]}
    return one(run([vm()], metrics, **cfg), "vm_rightsize_candidate")


def test_rightsize_p99_just_below_and_at_30() -> None:
    f = rightsize(lambda h: 29.99)
    assert f.status is Status.FIRING
    assert f.evidence["cpu_p99_of_max_percent"] == 29.99
    assert rightsize(lambda h: 30.0).status is Status.RESOLVED


def test_rightsize_p99_ignores_one_percent_of_peaks() -> None:
    # 1 peak hour of 168 is above P99 (index 166.33); 3 peaks are not.
    assert rightsize(lambda h: 90.0 if h == 7 else 20.0).status is Status.FIRING
    assert rightsize(lambda h: 90.0 if h in (7, 8, 9) else 20.0).status is Status.RESOLVED


def test_rightsize_waste_is_half_the_cost_and_superseded_by_shutdown() -> None:
    f = one(run([vm()], {VM: cpu(VM, lambda h: 10.0, lambda h: 20.0)}, costs_for(VM, 10.0)), "vm_rightsize_candidate")
    assert f.annotations["monthly_waste"] == "150.00"
    assert f.annotations["currency"] == "EUR"
    assert f.annotations["waste_basis"] == "cost data"
    idle = {VM: [*cpu(VM, lambda h: 0.3, lambda h: 1.0), hourly(VM, "Network Out Total", lambda h: 1e6, agg="total")]}
    found = run([vm()], idle)
    assert one(found, "vm_shutdown_candidate").status is Status.FIRING
    g = one(found, "vm_rightsize_candidate")
    assert g.status is Status.RESOLVED
    assert "superseded" in g.annotations["description"]


# ------------------------------------------------------------------ vm_stopped_not_deallocated


@pytest.mark.parametrize(
    ("power", "status"),
    [("stopped", Status.FIRING), ("deallocated", Status.RESOLVED), ("running", Status.RESOLVED)],
)
def test_stopped_not_deallocated(power: str, status: Status) -> None:
    f = one(run([vm(power)]), "vm_stopped_not_deallocated")
    assert f.status is status
    if status is Status.FIRING:
        assert f.annotations["waste_basis"] == "estimate"
        assert float(f.annotations["monthly_waste"]) == pytest.approx(0.192 * 730, abs=0.01)


def test_stopped_waste_from_cost_rows_and_no_power_state_no_verdict() -> None:
    f = one(run([vm("stopped")], costs=costs_for(VM, 4.0, days=10)), "vm_stopped_not_deallocated")
    assert (f.annotations["monthly_waste"], f.annotations["waste_basis"]) == ("120.00", "cost data")
    assert f.evidence["waste"]["monthly_waste"] == 120.0
    assert none_of(run([vm(None)]), "vm_stopped_not_deallocated")


# ------------------------------------------------------------------ ml_compute_instance_idle


def instance(state: str = "Running", size: str = "Standard_NC6s_v3", **inner: Any) -> dict[str, Any]:
    return {
        "id": CI,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": "eastus",
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {"vmSize": size, "state": state, **inner},
        },
    }


def ci_metrics(cpu_fn: Fn, gpu_fn: Fn | None = None, run_fn: Fn | None = None) -> dict[str, list[MetricSeries]]:
    series = [hourly(WS, "CpuUtilizationPercentage", cpu_fn, agg="maximum", ComputeName="ci-gpu")]
    series.append(hourly(WS, "CpuUtilizationPercentage", lambda h: 90.0, agg="maximum", ComputeName="other-ci"))
    if gpu_fn:
        series.append(hourly(WS, "GpuUtilizationPercentage", gpu_fn, agg="maximum", ComputeName="ci-gpu"))
    if run_fn:
        series.append(
            hourly(WS, "CpuUtilizationPercentage", run_fn, agg="maximum", ComputeName="ci-gpu", RunId="run-42")
        )
    return {WS: series}


def ci_opt(metrics: dict[str, list[MetricSeries]], res: dict[str, Any] | None = None) -> Finding | None:
    found = [f for f in run([res or instance()], metrics) if f.rule == "ml_compute_instance_idle"]
    return found[0] if found else None


def ci(metrics: dict[str, list[MetricSeries]], res: dict[str, Any] | None = None) -> Finding:
    f = ci_opt(metrics, res)
    assert f is not None
    return f


def test_instance_cpu_just_below_and_at_threshold() -> None:
    f = ci(ci_metrics(lambda h: 4.99, lambda h: 0.0))
    assert f.status is Status.FIRING
    assert f.annotations["idle_shutdown"] == "not configured"
    assert f.annotations["waste_basis"] == "estimate"
    assert float(f.annotations["monthly_waste"]) == pytest.approx(3.06 * 730, abs=0.01)
    g = ci(ci_metrics(lambda h: 5.0, lambda h: 0.0))
    assert g.status is Status.RESOLVED


def test_instance_gpu_just_below_and_at_threshold() -> None:
    f = ci(ci_metrics(lambda h: 1.0, lambda h: 4.99))
    assert f.status is Status.FIRING
    g = ci(ci_metrics(lambda h: 1.0, lambda h: 5.0 if h == 2 else 0.0))
    assert g.status is Status.RESOLVED
    assert "GPU" in g.annotations["description"]


def test_instance_idle_window_just_inside_and_outside() -> None:
    # Busy 4 hours ago (outside a 4-hour window: hours 0..3) -> idle; busy 3 hours ago -> not.
    f = ci(ci_metrics(lambda h: 60.0 if h == 4 else 1.0))
    assert f.status is Status.FIRING
    g = ci(ci_metrics(lambda h: 60.0 if h == 3 else 1.0))
    assert g.status is Status.RESOLVED


def test_instance_with_a_job_is_not_idle() -> None:
    g = ci(ci_metrics(lambda h: 1.0, run_fn=lambda h: 2.0 if h == 1 else None))
    assert g.status is Status.RESOLVED
    assert g.evidence["jobs_in_window"] is True
    f = ci(ci_metrics(lambda h: 1.0, run_fn=lambda h: 2.0 if h == 10 else None))
    assert f.status is Status.FIRING


def test_instance_reports_idle_shutdown_and_resolves_when_stopped() -> None:
    f = ci(ci_metrics(lambda h: 1.0), instance(idleTimeBeforeShutdown="PT60M"))
    assert f.annotations["idle_shutdown"] == "PT60M"
    sched = {"computeStartStop": [{"action": "Stop", "status": "Enabled", "triggerType": "Cron"}]}
    f = ci(ci_metrics(lambda h: 1.0), instance(schedules=sched))
    assert f.annotations["idle_shutdown"] == "schedule"
    s = ci(ci_metrics(lambda h: None), instance("Stopped"))
    assert s.status is Status.RESOLVED


def test_instance_without_metrics_gets_no_verdict() -> None:
    assert ci_opt({}) is None
    assert ci_opt(ci_metrics(lambda h: 1.0 if h < 3 else None)) is None  # 3 of 4 hours: coverage 0.75 < 0.8


def test_instance_metrics_under_its_own_id_count_too() -> None:
    metrics = {CI: [hourly(CI, "CpuUtilizationPercentage", lambda h: 1.0, agg="maximum")]}
    f = ci(metrics)
    assert f.status is Status.FIRING


# ------------------------------------------------------------------ ml_cluster_idle_nodes


def cluster(min_nodes: int = 2) -> dict[str, Any]:
    return {
        "id": CLUSTER,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "properties": {
            "computeType": "AmlCompute",
            "properties": {
                "vmSize": "Standard_NC6s_v3",
                "scaleSettings": {"minNodeCount": min_nodes, "maxNodeCount": 4},
            },
        },
    }


def cl(idle: Fn, active: Fn, min_nodes: int = 2, costs: Any = None) -> Finding:
    metrics = {
        WS: [
            hourly(WS, "Idle Nodes", idle, ClusterName="cluster-a", Scenario="x"),
            hourly(WS, "Active Nodes", active, agg="maximum", ClusterName="cluster-a"),
            hourly(WS, "Idle Nodes", lambda h: 0.0, ClusterName="cluster-b"),
        ]
    }
    return one(run([cluster(min_nodes)], metrics, costs), "ml_cluster_idle_nodes")


def test_cluster_idle_nodes_for_n_hours() -> None:
    f = cl(lambda h: 2.0, lambda h: 0.0)
    assert f.status is Status.FIRING
    assert f.evidence["min_idle_nodes"] == 2.0
    assert float(f.annotations["monthly_waste"]) == pytest.approx(2 * 3.06 * 730, abs=0.01)


def test_cluster_window_edges_and_active_nodes() -> None:
    # An hour without idle nodes 8 hours back is outside the 8-hour window; 7 hours back is inside.
    assert cl(lambda h: 0.0 if h == 8 else 2.0, lambda h: 0.0).status is Status.FIRING
    assert cl(lambda h: 0.0 if h == 7 else 2.0, lambda h: 0.0).status is Status.RESOLVED
    assert cl(lambda h: 0.99, lambda h: 0.0).status is Status.RESOLVED
    assert cl(lambda h: 1.0, lambda h: 0.0).status is Status.FIRING
    g = cl(lambda h: 2.0, lambda h: 1.0 if h == 0 else 0.0)
    assert g.status is Status.RESOLVED


def test_cluster_scaling_to_zero_resolves_and_waste_uses_cost_rows() -> None:
    assert cl(lambda h: 2.0, lambda h: 0.0, min_nodes=0).status is Status.RESOLVED
    f = cl(lambda h: 2.0, lambda h: 0.0, costs=costs_for(CLUSTER, 100.0))
    assert (f.annotations["monthly_waste"], f.annotations["currency"]) == ("3000.00", "EUR")


# ------------------------------------------------------------------ unattached_disk


def disk(state: str = "Unattached", days: float = 7.0, **props: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "diskState": state,
        "diskSizeGB": 128,
        "timeCreated": (NOW - timedelta(days=90)).isoformat(),
        "LastOwnershipUpdateTime": (NOW - timedelta(days=days)).isoformat(),
        **props,
    }
    return {"id": DISK, "type": "Microsoft.Compute/disks", "sku": {"name": "Premium_LRS"}, "properties": p}


def test_disk_unattached_just_over_and_under_n_days() -> None:
    f = one(run([disk(days=7.001)]), "unattached_disk")
    assert f.status is Status.FIRING
    assert f.annotations["monthly_waste"] == "19.71"  # P10 list price
    assert f.annotations["waste_basis"] == "estimate"
    g = one(run([disk(days=6.999)]), "unattached_disk")
    assert g.status is Status.RESOLVED
    assert one(run([disk(days=3)], disk_unattached_days=2), "unattached_disk").status is Status.FIRING


def test_disk_attached_resolves_and_time_created_is_the_fallback() -> None:
    assert one(run([disk("Attached")]), "unattached_disk").status is Status.RESOLVED
    d = disk(days=1)
    del d["properties"]["LastOwnershipUpdateTime"]
    f = one(run([d]), "unattached_disk")
    assert f.status is Status.FIRING
    assert f.evidence["since_basis"] == "timeCreated"


# ------------------------------------------------------------------ unassociated_public_ip


def pip(sku: str = "Standard", method: str = "Static", **props: Any) -> dict[str, Any]:
    p = {"publicIPAllocationMethod": method, "ipAddress": "20.1.2.3", **props}
    return {"id": PIP, "type": "Microsoft.Network/publicIPAddresses", "sku": {"name": sku}, "properties": p}


def test_public_ip_unassociated_fires_associated_resolves() -> None:
    f = one(run([pip()]), "unassociated_public_ip")
    assert f.status is Status.FIRING
    assert f.annotations["monthly_waste"] == "3.65"
    nic = {"id": f"{SUB}/microsoft.network/networkinterfaces/nic/ipconfigurations/ipconfig1"}
    assert one(run([pip(ipConfiguration=nic)]), "unassociated_public_ip").status is Status.RESOLVED
    nat = {"id": f"{SUB}/microsoft.network/natgateways/nat"}
    assert one(run([pip(natGateway=nat)]), "unassociated_public_ip").status is Status.RESOLVED
    basic = pip("Basic", "Dynamic")
    del basic["properties"]["ipAddress"]
    assert one(run([basic]), "unassociated_public_ip").status is Status.RESOLVED


# ------------------------------------------------------------------ resolution of deleted resources


def test_previous_firing_finding_of_a_deleted_resource_resolves_with_the_same_fingerprint() -> None:
    before = one(run([pip()]), "unassociated_public_ip")
    after = run([], previous=[before.to_dict()])
    (gone,) = after
    assert gone.status is Status.RESOLVED
    assert gone.fingerprint == before.fingerprint
    assert gone.evidence["deleted"] is True
    # Still present (and still firing): no duplicate "deleted" finding.
    again = run([pip()], previous=[before])
    assert [f.status for f in again if f.rule == "unassociated_public_ip"] == [Status.FIRING]


def test_waste_is_never_a_label_and_pure_in_now() -> None:
    a = run([pip(), disk(days=30), vm("stopped")])
    b = run([pip(), disk(days=30), vm("stopped")])
    assert [f.to_dict() for f in a] == [f.to_dict() for f in b]
    for f in a:
        assert not f.labels
        if f.status is Status.FIRING:
            assert float(f.annotations["monthly_waste"]) > 0
            assert f.evidence["waste"]["basis"] in {"cost data", "estimate"}


def test_with_previous_only_what_was_firing_resolves() -> None:
    before = one(run([pip()]), "unassociated_public_ip")
    nic = {"id": f"{SUB}/microsoft.network/networkinterfaces/nic/ipconfigurations/ipconfig1"}
    after = run([pip(ipConfiguration=nic), disk("Attached"), vm("deallocated")], previous=[before])
    assert [(f.rule, f.status) for f in after] == [("unassociated_public_ip", Status.RESOLVED)]
    assert after[0].fingerprint == before.fingerprint
    # Stateless (previous=None): every compliant resource is reported RESOLVED.
    stateless = run([pip(ipConfiguration=nic), disk("Attached")])
    assert {f.rule for f in stateless if f.status is Status.RESOLVED} == {"unassociated_public_ip", "unattached_disk"}


def test_previous_may_be_the_alerts_themselves() -> None:
    from core.model import Alert

    before = one(run([pip()]), "unassociated_public_ip")
    alert = Alert.from_finding(before)
    for prev in ([alert], [alert.to_dict()]):
        (gone,) = run([], previous=prev)
        assert gone.status is Status.RESOLVED
        assert gone.fingerprint == alert.fingerprint == before.fingerprint
    resolved = Alert.from_finding(before).to_dict() | {"status": "resolved", "endsAt": NOW.isoformat()}
    assert run([], previous=[resolved]) == []


def test_power_state_from_a_resource_graph_row() -> None:
    row = vm(None)
    row["properties"]["extended"] = {"instanceView": {"powerState": {"code": "PowerState/stopped"}}}
    assert one(run([row]), "vm_stopped_not_deallocated").status is Status.FIRING
