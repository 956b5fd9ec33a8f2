"""Hourly Azure Monitor metrics (Percentage CPU, Network Out Total) in the REST response shape."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.model import METRIC_DAYS, Res, dump, iso


def _cpu(r: Res, hour: datetime, start_idle: datetime, last_day_start: datetime, rng: random.Random) -> float | None:
    """Average CPU of one hour, or None when the machine was not running."""
    p = r.profile
    h = hour.hour
    diurnal = 0.5 + 0.5 * math.sin((h - 8) / 24 * 2 * math.pi)
    if p == "off":
        return None
    if p == "idle":
        if hour >= start_idle:
            return round(rng.uniform(0.15, 0.75), 4)
        return round(12 + 25 * diurnal + rng.uniform(-3, 3), 4)
    if p == "spike":
        if hour >= last_day_start - timedelta(days=1):
            return round(rng.uniform(88, 99), 4)
        return round(rng.uniform(70, 95), 4) if 1 <= h < 6 else None
    if p == "dev":
        if hour.weekday() >= 5 or not 8 <= h < 19:
            return None
        return round(rng.uniform(4, 35), 4)
    return round(15 + 40 * diurnal + rng.uniform(-4, 4), 4)


def _metrics_doc(r: Res, hours: list[datetime], cpu: list[float | None], rng: random.Random) -> dict[str, Any]:
    cpu_points: list[dict[str, Any]] = []
    net_points: list[dict[str, Any]] = []
    for hr, c in zip(hours, cpu, strict=True):
        ts = iso(hr)
        if c is None:
            cpu_points.append({"timeStamp": ts})
            net_points.append({"timeStamp": ts})
            continue
        peak = min(100.0, c * rng.uniform(1.3, 2.2)) if c > 1 else c * rng.uniform(1.5, 2.5)
        cpu_points.append({"timeStamp": ts, "average": c, "maximum": round(peak, 4)})
        if r.profile == "idle" and c < 1:
            net = rng.uniform(0.2e6, 1.5e6)  # heartbeat traffic only
        else:
            net = rng.uniform(40e6, 600e6) * (0.3 + c / 100)
        net_points.append({"timeStamp": ts, "total": round(net, 1)})
    start, end = hours[0], hours[-1] + timedelta(hours=1)
    rid = r.id
    return {
        "cost": 0,
        "timespan": f"{iso(start)}/{iso(end)}",
        "interval": "PT1H",
        "value": [
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/Percentage CPU",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
                "displayDescription": "The percentage of allocated compute units that are currently in use.",
                "unit": "Percent",
                "timeseries": [{"metadatavalues": [], "data": cpu_points}],
                "errorCode": "Success",
            },
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/Network Out Total",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Network Out Total", "localizedValue": "Network Out Total"},
                "displayDescription": "The number of bytes out on all network interfaces by the Virtual Machine(s).",
                "unit": "Bytes",
                "timeseries": [{"metadatavalues": [], "data": net_points}],
                "errorCode": "Success",
            },
        ],
        "namespace": r.type,
        "resourceregion": r.location,
    }


def write_metrics(root: Path, res: list[Res], now: datetime, rng: random.Random, tick: Callable[[], None]) -> int:
    start = now - timedelta(days=METRIC_DAYS)
    hours = [start + timedelta(hours=i) for i in range(METRIC_DAYS * 24)]
    start_idle = now - timedelta(days=14)
    last_day_start = now - timedelta(days=1)
    count = 0
    for r in res:
        if r.type != "Microsoft.Compute/virtualMachines":
            continue
        cpu = [_cpu(r, h, start_idle, last_day_start, rng) for h in hours]
        doc = _metrics_doc(r, hours, cpu, rng)
        dump(root / "metrics" / r.sub.id / r.rg / f"{r.name}.json", doc)
        count += 1
        tick()
    return count


def _dims(compute: Res) -> list[dict[str, Any]]:
    short = compute.name.split("/")[-1]
    return [{"name": {"value": "ComputeName", "localizedValue": "ComputeName"}, "value": short}]


def _idle_rng(compute: Res) -> random.Random:
    """The idle instance's own stream (seeded by its id), so planting it changes no other series."""
    return random.Random(f"idle-ml:{compute.id}")


def _idle_series(compute: Res, hours: list[datetime], metric: str) -> dict[str, Any]:
    """Hourly CPU (0.2-1.5 % average, max < 3 %) or GPU (0-1 %) of an idle running instance."""
    rng = _idle_rng(compute) if metric == "cpu" else random.Random(f"idle-ml-gpu:{compute.id}")
    data: list[dict[str, Any]] = []
    for hr in hours:
        if metric == "cpu":
            avg = rng.uniform(0.2, 1.5)
            peak = min(2.95, avg * rng.uniform(1.2, 1.9))
        else:
            avg = rng.uniform(0.0, 0.6)
            peak = min(1.0, avg + rng.uniform(0.0, 0.4))
        data.append({"timeStamp": iso(hr), "average": round(avg, 4), "maximum": round(peak, 4)})
    return {"metadatavalues": _dims(compute), "data": data}


def _ml_series(compute: Res, hours: list[datetime], rng: random.Random) -> dict[str, Any]:
    """One ``CpuUtilizationPercentage`` timeseries of a compute instance (dimension ComputeName)."""
    if compute.profile == "idle":
        return _idle_series(compute, hours, "cpu")
    data: list[dict[str, Any]] = []
    for hr in hours:
        working = hr.weekday() < 5 and 9 <= hr.hour < 19
        if compute.profile == "off" or not working:
            data.append({"timeStamp": iso(hr)})  # stopped: no data for the grain
            continue
        avg = round(rng.uniform(6, 45), 4)
        data.append({"timeStamp": iso(hr), "average": avg, "maximum": round(min(100.0, avg * rng.uniform(1.2, 2)), 4)})
    return {"metadatavalues": _dims(compute), "data": data}


def write_ml_metrics(root: Path, res: list[Res], now: datetime, rng: random.Random) -> int:
    """Workspace-level ``CpuUtilizationPercentage`` (and ``GpuUtilizationPercentage``) split by ComputeName.

    One file per workspace: the body of ``GET {workspaceId}/providers/microsoft.insights/metrics?metricnames=
    CpuUtilizationPercentage,GpuUtilizationPercentage&$filter=ComputeName eq '*'&interval=PT1H
    &aggregation=average,maximum``; compute instances report while running (working hours here),
    nothing while stopped. GPU instances (NC sizes) also report GPU utilisation; the planted idle
    instance (profile ``idle``) runs around the clock at near-zero CPU and GPU.
    """
    start = now - timedelta(days=METRIC_DAYS)
    hours = [start + timedelta(hours=i) for i in range(METRIC_DAYS * 24)]
    count = 0
    for ws in res:
        if ws.type != "Microsoft.MachineLearningServices/workspaces":
            continue
        instances = [
            r
            for r in res
            if r.type.endswith("/computes")
            and r.name.startswith(ws.name + "/")
            and r.arm["properties"]["computeType"] == "ComputeInstance"
        ]
        if not instances:
            continue
        # GPU utilisation is written for the idle GPU instance (the only GPU compute instance simulated).
        gpus = [
            c
            for c in instances
            if c.profile == "idle" and c.arm["properties"]["properties"]["vmSize"].startswith("Standard_NC")
        ]
        doc: dict[str, Any] = {
            "cost": 0,
            "timespan": f"{iso(start)}/{iso(now)}",
            "interval": "PT1H",
            "value": [
                {
                    "id": f"{ws.id}/providers/Microsoft.Insights/metrics/CpuUtilizationPercentage",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": "CpuUtilizationPercentage", "localizedValue": "CPU Utilization Percentage"},
                    "displayDescription": "CPU utilization of compute nodes in the workspace.",
                    "unit": "Percent",
                    "timeseries": [_ml_series(c, hours, rng) for c in instances],
                    "errorCode": "Success",
                }
            ],
            "namespace": ws.type,
            "resourceregion": ws.location,
        }
        if gpus:
            doc["value"].append(
                {
                    "id": f"{ws.id}/providers/Microsoft.Insights/metrics/GpuUtilizationPercentage",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": "GpuUtilizationPercentage", "localizedValue": "GPU Utilization Percentage"},
                    "displayDescription": "GPU utilization of compute nodes in the workspace.",
                    "unit": "Percent",
                    "timeseries": [_idle_series(c, hours, "gpu") for c in gpus],
                    "errorCode": "Success",
                }
            )
        dump(root / "metrics" / ws.sub.id / ws.rg / f"{ws.name}.json", doc)
        count += 1
    return count
