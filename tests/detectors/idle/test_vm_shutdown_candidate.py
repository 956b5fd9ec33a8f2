"""vm_shutdown_candidate: the Azure Advisor shutdown rule, FIRING and RESOLVED, waste in annotations only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from core.costframe import column_names, pandas_dtypes
from core.model import Status
from core.sources import MetricPoint, MetricSeries
from detectors.config import IdleConfig
from detectors.idle.detect import detect
from detectors.registry import family_folders, rule

NOW = datetime(2026, 11, 25, tzinfo=UTC)
VM = "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-1"


def _vm(power: str = "running", size: str = "Standard_D4s_v3") -> dict[str, Any]:
    return {
        "id": VM,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "instanceView": {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}]},
        },
    }


def _series(
    cpu_avg: Callable[[int], float | None],
    *,
    cpu_max: Callable[[int], float | None] | None = None,
    net: Callable[[int], float | None] = lambda h: 1e6,
    hours: int = 14 * 24,
) -> list[MetricSeries]:
    """Hourly series ending at NOW; the callables get the hour index counted back from NOW (0 = last hour)."""
    start = NOW - timedelta(hours=hours)
    cpu_points, net_points = [], []
    for i in range(hours):
        back = hours - 1 - i
        ts = start + timedelta(hours=i)
        avg = cpu_avg(back)
        mx = cpu_max(back) if cpu_max else (None if avg is None else avg * 1.5)
        cpu_points.append(MetricPoint(ts, average=avg, maximum=mx))
        net_points.append(MetricPoint(ts, total=net(back)))
    return [
        MetricSeries(VM, "Percentage CPU", "Percent", "PT1H", tuple(cpu_points)),
        MetricSeries(VM, "Network Out Total", "Bytes", "PT1H", tuple(net_points)),
    ]


def _costs(daily: float, days: int = 30, rid: str = VM) -> pd.DataFrame:
    rows = []
    for d in range(days):
        start = NOW - timedelta(days=d + 1)
        row: dict[str, Any] = dict.fromkeys(column_names())
        row.update(
            ChargePeriodStart=start,
            ChargePeriodEnd=start + timedelta(days=1),
            BilledCost=daily,
            EffectiveCost=daily,
            BillingCurrency="USD",
            ResourceId=rid,
            x_SourceRunId="run",
            x_SourceFile="f.csv",
        )
        rows.append(row)
    return pd.DataFrame(rows).astype(pandas_dtypes())


def _run(resources: list[dict[str, Any]], series: list[MetricSeries], costs: Any = None, **cfg: Any) -> list[Any]:
    found = detect(resources=resources, metrics={VM: series}, costs=costs, config=IdleConfig(**cfg), now=NOW)
    return [f for f in found if f.rule == "vm_shutdown_candidate"]


def test_registered_with_metadata() -> None:
    assert any(f.name == "vm_shutdown_candidate" for f in family_folders("idle"))
    meta = rule("vm_shutdown_candidate")
    assert meta.family == "idle"
    assert meta.extra["remediation_action"] == "deallocate_vm"
    keys = meta.extra["config_keys"]
    assert isinstance(keys, list)
    assert "cpu_recent_avg_max_percent" in keys
    assert IdleConfig().cpu_recent_avg_max_percent == 2.0


def test_idle_vm_fires_with_monthly_waste_from_costs() -> None:
    (f,) = _run([_vm()], _series(lambda h: 0.4), _costs(4.608))
    assert f.status is Status.FIRING
    assert f.rule == "vm_shutdown_candidate"
    assert f.annotations["monthly_waste"] == "138.24"
    assert f.annotations["currency"] == "USD"
    assert f.evidence["cost"]["days_with_cost"] == 30
    assert f.evidence["cpu_p95_of_max_percent"] < 3
    assert all(not any(ch.isdigit() for ch in v) for v in f.labels.values())


def test_waste_scales_partial_cost_history_to_thirty_days() -> None:
    (f,) = _run([_vm()], _series(lambda h: 0.4), _costs(2.0, days=10))
    assert f.annotations["monthly_waste"] == "60.00"


def test_waste_never_changes_identity() -> None:
    (a,) = _run([_vm()], _series(lambda h: 0.4), _costs(1.0))
    (b,) = _run([_vm()], _series(lambda h: 0.4), _costs(9.0))
    assert a.fingerprint == b.fingerprint
    assert a.annotations["monthly_waste"] != b.annotations["monthly_waste"]


def test_no_cost_rows_uses_the_documented_estimate() -> None:
    (f,) = _run([_vm()], _series(lambda h: 0.4), _costs(3.0, rid=VM.replace("vm-1", "other")))
    assert f.annotations["waste_basis"] == "estimate"
    assert f.annotations["monthly_waste"] == f"{0.192 * 730:.2f}"
    assert f.annotations["currency"] == "USD"
    assert f.evidence["waste"]["basis"] == "estimate"


def test_unknown_size_without_cost_rows_says_waste_unknown() -> None:
    (f,) = _run([_vm(size="Standard_Z99")], _series(lambda h: 0.4))
    assert "monthly_waste" not in f.annotations
    assert f.annotations["waste_basis"] == "unknown"


def test_busy_vm_is_resolved() -> None:
    (f,) = _run([_vm()], _series(lambda h: 35.0))
    assert f.status is Status.RESOLVED
    assert "P95 of max CPU" in f.annotations["description"]


def test_recent_activity_above_two_percent_blocks_it() -> None:
    # P95 of max stays below 3 % but one recent hour averages 2.5 %.
    series = _series(lambda h: 2.5 if h == 5 else 0.3, cpu_max=lambda h: 2.6 if h == 5 else 0.5)
    (f,) = _run([_vm()], series)
    assert f.status is Status.RESOLVED
    assert "max average CPU" in f.annotations["description"]


def test_cpu_p95_threshold_is_strict() -> None:
    (f,) = _run([_vm()], _series(lambda h: 0.5, cpu_max=lambda h: 3.0))
    assert f.status is Status.RESOLVED
    (g,) = _run([_vm()], _series(lambda h: 0.5, cpu_max=lambda h: 2.99))
    assert g.status is Status.FIRING


def test_busy_network_blocks_it() -> None:
    # D4s_v3 expects 2000 Mbit/s: 2 % is 40 Mbit/s = 18 GB per hour.
    (f,) = _run([_vm()], _series(lambda h: 0.4, net=lambda h: 20e9))
    assert f.status is Status.RESOLVED
    assert "outbound network" in f.annotations["description"]


def test_missing_network_metric_does_not_fire() -> None:
    series = [s for s in _series(lambda h: 0.4) if s.name == "Percentage CPU"]
    (f,) = _run([_vm()], series)
    assert f.status is Status.RESOLVED
    assert "no Network Out Total" in f.annotations["description"]


def test_only_the_lookback_window_counts() -> None:
    # Busy until 5 days ago, idle since: with a 7-day lookback it is not idle, with 4 days it is.
    series = _series(lambda h: 40.0 if h >= 5 * 24 else 0.3)
    assert _run([_vm()], series)[0].status is Status.RESOLVED
    assert _run([_vm()], series, lookback_days=4)[0].status is Status.FIRING


def test_deallocated_vm_resolves() -> None:
    (f,) = _run([_vm("deallocated")], _series(lambda h: None))
    assert f.status is Status.RESOLVED
    assert f.evidence["power_state"] == "deallocated"


@pytest.mark.parametrize("hours", [0, 100])
def test_too_little_data_gives_no_verdict(hours: int) -> None:
    series = _series(lambda h: 0.4, hours=hours) if hours else []
    assert _run([_vm()], series) == []


def test_disabled_and_non_vm_resources() -> None:
    assert _run([_vm()], _series(lambda h: 0.4), enabled=False) == []
    disk = {"id": VM.replace("virtualmachines", "disks"), "type": "Microsoft.Compute/disks"}
    assert _run([disk], _series(lambda h: 0.4)) == []


def test_requires_timezone_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        detect(resources=[], metrics={}, costs=None, config=IdleConfig(), now=NOW.replace(tzinfo=None))
