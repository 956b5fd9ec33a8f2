"""ml_cluster_idle_nodes: an AmlCompute cluster kept at minNodeCount > 0 whose nodes sit idle.

Uses the workspace's quota metrics ``Idle Nodes`` and ``Active Nodes`` (dimension
``ClusterName``; https://learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning-reference).
FIRING when ``scaleSettings.minNodeCount > 0`` and, over the last ``ml_cluster_idle_hours``,
enough hours have data (``min_coverage``), every hour has at least one idle node and no
hour has an active node. Waste: the cluster's cost times the share of node-hours that
were idle (all of it when no node was active); estimate: mean idle nodes x node list
price. RESOLVED when nodes become active, minNodeCount drops to 0, or the cluster is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from core.sources import MetricPoint
from detectors.idle import prices
from detectors.idle.common import Context, Verdict, interval_hours, window
from detectors.idle.rules.ml_compute_instance_idle.check import compute_series, inner_props

__all__ = ["evaluate"]


def _val(p: MetricPoint) -> float | None:
    return p.average if p.average is not None else p.maximum


def evaluate(cluster: Mapping[str, Any], ctx: Context) -> Verdict | None:
    cfg = ctx.config
    inner = inner_props(cluster)
    scale = inner.get("scaleSettings") or {}
    min_nodes = int(scale.get("minNodeCount") or 0)
    size = str(inner.get("vmSize") or "")
    evidence: dict[str, Any] = {
        "min_node_count": min_nodes,
        "max_node_count": scale.get("maxNodeCount"),
        "vm_size": size,
    }
    if min_nodes <= 0:
        return Verdict(False, "cluster scales to zero (minNodeCount 0)", evidence)
    hours = cfg.ml_cluster_idle_hours
    start, end = ctx.now - timedelta(hours=hours), ctx.now
    idle_s = compute_series(cluster, ctx, "Idle Nodes", "ClusterName")
    active_s = compute_series(cluster, ctx, "Active Nodes", "ClusterName")
    idle_by_ts: dict[Any, float] = {}
    for s in idle_s:
        for p in window(s, start, end):
            v = _val(p)
            if v is not None:
                idle_by_ts[p.timestamp] = idle_by_ts.get(p.timestamp, 0.0) + v
    active_by_ts: dict[Any, float] = {}
    for s in active_s:
        for p in window(s, start, end):
            v = p.maximum if p.maximum is not None else p.average
            if v is not None:
                active_by_ts[p.timestamp] = active_by_ts.get(p.timestamp, 0.0) + v
    per = interval_hours(idle_s[0]) if idle_s else 1.0
    if len(idle_by_ts) * per < cfg.min_coverage * hours:
        return None
    min_idle = min(idle_by_ts.values())
    mean_idle = sum(idle_by_ts.values()) / len(idle_by_ts)
    max_active = max(active_by_ts.values(), default=0.0)
    mean_active = sum(active_by_ts.values()) / len(active_by_ts) if active_by_ts else 0.0
    evidence.update(
        idle_hours_window=hours,
        hours_with_data=round(len(idle_by_ts) * per, 2),
        min_idle_nodes=round(min_idle, 3),
        mean_idle_nodes=round(mean_idle, 3),
        max_active_nodes=round(max_active, 3),
    )
    if min_idle < 1:
        return Verdict(False, "some hours had no idle node", evidence)
    if max_active > 0:
        return Verdict(False, f"up to {max_active:g} node(s) ran jobs", evidence)
    share = mean_idle / (mean_idle + mean_active) if mean_idle + mean_active > 0 else 1.0
    hourly = prices.vm_hourly(size)
    return Verdict(
        True,
        f"{mean_idle:.1f} idle node(s) and no active node for the last {hours} h with minNodeCount {min_nodes}",
        evidence,
        waste_fraction=share,
        estimate_monthly=mean_idle * hourly * cfg.hours_per_month if hourly is not None else None,
        estimate_source=(
            f"{mean_idle:.2f} idle nodes x list price of {size} ({hourly} USD/h x {cfg.hours_per_month:g} h)"
            if hourly is not None
            else ""
        ),
    )
