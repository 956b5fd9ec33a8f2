"""The columnar (numpy) path of the idle VM statistics gives exactly the figures of the points path.

Randomized VMs: series of different lengths and grains, hours missing (gaps), points without
values (None in average, maximum or total, independently), windows partly outside the data,
VMs without a network series, stopped VMs, VMs whose CPU series has no columns (mixed input).
Both paths must give identical findings (labels, annotations, evidence: every figure).
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.sources import MetricPoint, MetricSeries, parse_metrics_response, series_columns, with_columns
from detectors.config import IdleConfig
from detectors.idle.detect import detect
from detectors.idle.vmstats import ColumnWindow, VmWindow, vm_windows

NOW = datetime(2026, 11, 25, tzinfo=UTC)
VM = "/subscriptions/s{sub}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-{i:04d}"


def _value(rng: random.Random, low: float, high: float, p_none: float) -> float | None:
    if rng.random() < p_none:
        return None
    if rng.random() < 0.05:
        return rng.choice((low, high, 0.0))  # ties and exact boundaries
    return rng.uniform(low, high)


def _vm_series(rng: random.Random, rid: str) -> list[MetricSeries]:
    grain = rng.choice((1.0, 1.0, 1.0, 0.5))  # PT1H mostly, some PT30M
    hours = rng.choice((24, 3 * 24, 6 * 24, 8 * 24, 14 * 24))
    steps = int(hours / grain)
    end_shift = rng.choice((0, 0, 0, -5, 7))  # data ending a little before, or beyond, now
    start = NOW - timedelta(hours=hours + end_shift)
    level = rng.choice((0.5, 0.5, 1.5, 2.5, 10.0, 40.0))
    net_level = rng.choice((1e6, 1e6, 5e8, 3e10))
    p_gap, p_none = rng.choice((0.0, 0.02, 0.3)), rng.choice((0.0, 0.01, 0.2))
    cpu, net = [], []
    for k in range(steps):
        if rng.random() < p_gap:
            continue  # the hour is missing altogether
        ts = start + timedelta(hours=k * grain)
        avg = _value(rng, 0.0, level, p_none)
        mx = _value(rng, 0.0, level * 2, p_none)
        cpu.append(MetricPoint(ts, average=avg, maximum=mx))
        net.append(MetricPoint(ts, total=_value(rng, 0.0, net_level, p_none)))
    interval = "PT1H" if grain == 1.0 else "PT30M"
    out = [MetricSeries(rid, "Percentage CPU", "Percent", interval, tuple(cpu))]
    if rng.random() < 0.9:
        out.append(MetricSeries(rid, "Network Out Total", "Bytes", interval, tuple(net)))
    return out


def _tenant(seed: int, n: int) -> tuple[list[dict[str, Any]], dict[str, list[MetricSeries]]]:
    rng = random.Random(seed)
    resources, metrics = [], {}
    for i in range(n):
        rid = VM.format(sub=i % 3, i=i)
        power = rng.choice(("running",) * 8 + ("stopped", "deallocated"))
        resources.append(
            {
                "id": rid,
                "type": "Microsoft.Compute/virtualMachines",
                "location": "eastus",
                "properties": {
                    "hardwareProfile": {"vmSize": rng.choice(("Standard_D4s_v3", "Standard_B2s", "Standard_X9"))},
                    "instanceView": {"statuses": [{"code": f"PowerState/{power}"}]},
                },
            }
        )
        if rng.random() < 0.95:
            metrics[rid] = _vm_series(rng, rid)
    return resources, metrics


def _columnar(metrics: dict[str, list[MetricSeries]], rng: random.Random) -> dict[str, list[MetricSeries]]:
    """The same series with columns, except a few (mixed input: those take the points path)."""
    return {rid: [s if rng.random() < 0.03 else with_columns(s) for s in ss] for rid, ss in metrics.items()}


def _findings(resources: list[dict[str, Any]], metrics: Any, previous: Any = None) -> list[dict[str, Any]]:
    found = detect(resources=resources, metrics=metrics, costs=None, config=IdleConfig(), now=NOW, previous=previous)
    return [f.to_dict() for f in found]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_columnar_and_points_paths_give_identical_findings(seed: int) -> None:
    resources, metrics = _tenant(seed, 300)
    cols = _columnar(metrics, random.Random(seed))
    assert any(s.columns is not None for ss in cols.values() for s in ss)
    assert all(s.columns is None for ss in metrics.values() for s in ss)
    plain = _findings(resources, metrics)
    fast = _findings(resources, cols)
    assert fast == plain
    assert {f["rule"] for f in plain if f["status"] == "firing"} >= {"vm_shutdown_candidate", "vm_rightsize_candidate"}
    previous = [f for f in plain if f["status"] == "firing"][::2]  # the stateful call, too
    assert _findings(resources, cols, previous) == _findings(resources, metrics, previous)


@pytest.mark.parametrize("seed", [11, 12])
def test_window_statistics_are_identical(seed: int) -> None:
    resources, metrics = _tenant(seed, 200)
    cols = {rid: [with_columns(s) for s in ss] for rid, ss in metrics.items()}
    ids = [str(r["id"]).lower() for r in resources]
    for days, recent in ((7, 3), (3, 7), (1, 1), (14, 3)):
        slow = vm_windows(ids, metrics, NOW, days, recent, columnar=False)
        fast = vm_windows(ids, cols, NOW, days, recent)
        assert any(isinstance(w, ColumnWindow) for w in fast.values())
        assert all(isinstance(w, VmWindow) for w in slow.values())
        for rid in ids:
            a, b = slow[rid], fast[rid]
            assert (a.cpu_hours, a.expected_points, a.max_recent_avg) == (
                b.cpu_hours,
                b.expected_points,
                b.max_recent_avg,
            )
            assert (a.net_points, a.net_expected_points, a.net_hours_per_point) == (
                b.net_points,
                b.net_expected_points,
                b.net_hours_per_point,
            )
            assert a.net_percentile(0.95) == b.net_percentile(0.95)
            if a.cpu_hours:
                for q in (0.0, 0.5, 0.95, 0.99, 1.0):
                    assert a.percentile(q) == b.percentile(q), (rid, q)


def test_columns_match_points_and_are_time_ordered() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    points = (
        MetricPoint(t0 + timedelta(hours=2), average=2.0, maximum=None),
        MetricPoint(t0, average=None, maximum=1.5, total=7.0),
        MetricPoint(t0 + timedelta(hours=1, microseconds=1), count=3.0),
    )
    cols = series_columns(points)
    assert cols.time.tolist() == [1767225600000000, 1767229200000001, 1767232800000000]
    assert cols.maximum.tolist()[0] == 1.5
    assert [v != v for v in cols.average.tolist()] == [True, True, False]  # NaN where there is no value
    assert cols.count.tolist()[1] == 3.0
    series = MetricSeries("/x", "Percentage CPU", "Percent", "PT1H", points)
    assert with_columns(series) == series  # columns never take part in equality
    assert with_columns(series).columns is not None


def test_parser_attaches_columns_once() -> None:
    body = {
        "interval": "PT1H",
        "value": [
            {
                "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v"
                "/providers/Microsoft.Insights/metrics/Percentage CPU",
                "name": {"value": "Percentage CPU"},
                "unit": "Percent",
                "timeseries": [
                    {
                        "data": [
                            {"timeStamp": "2026-01-01T00:00:00Z", "average": 1},
                            {"timeStamp": "2026-01-01T01:00:00Z"},
                        ]
                    }
                ],
            }
        ],
    }
    (s,) = parse_metrics_response(body)
    assert s.columns is not None
    assert len(s.columns) == len(s.points) == 2
    assert s.columns.average.tolist()[0] == 1.0
    (bare,) = parse_metrics_response(body, columns=False)
    assert bare.columns is None
    assert replace(bare, columns=s.columns) == s


def test_reading_the_tenant_module_does_not_import_numpy() -> None:
    """The drift/event cold path imports core.sources and vigil.tenant: numpy must stay unloaded."""
    code = "import sys, core.sources, vigil.tenant; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
