"""vm_shutdown_candidate: a running VM that Azure Advisor would tell you to shut down.

FIRING when, over the ``lookback_days`` before ``now`` (hourly metrics):

* the P95 of hourly *maximum* Percentage CPU is below ``cpu_p95_max_percent`` (3 %),
* the maximum of hourly *average* CPU over the last ``recent_days`` (3) is at most
  ``cpu_recent_avg_max_percent`` (2 %), and
* the P95 of hourly Network Out Total is at most ``network_out_p95_max_bytes_per_hour``.

RESOLVED when the VM is running with enough data and any test fails, or when it is
no longer running (deallocated/stopped). No finding when coverage is too thin to judge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.idle.costs import ResourceCost
from vigil.sources import MetricPoint, MetricSeries

__all__ = ["Params", "Verdict", "evaluate", "power_state"]

CPU = "percentage cpu"
NET_OUT = "network out total"


@dataclass(frozen=True, slots=True)
class Params:
    lookback_days: int = 7
    cpu_p95_max_percent: float = 3.0
    recent_days: int = 3
    cpu_recent_avg_max_percent: float = 2.0
    network_out_p95_max_bytes_per_hour: float = 10 * 1024 * 1024
    min_coverage: float = 0.8

    @classmethod
    def from_meta(cls, params: Mapping[str, Any], *, lookback_days: int, cpu_p95_max_percent: float) -> Params:
        return cls(
            lookback_days=lookback_days,
            cpu_p95_max_percent=cpu_p95_max_percent,
            recent_days=int(params.get("recent_days", 3)),
            cpu_recent_avg_max_percent=float(params.get("cpu_recent_avg_max_percent", 2.0)),
            network_out_p95_max_bytes_per_hour=float(params.get("network_out_p95_max_bytes_per_hour", 10 * 1024**2)),
            min_coverage=float(params.get("min_coverage", 0.8)),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    idle: bool
    reason: str
    evidence: dict[str, Any]


def power_state(vm: Mapping[str, Any]) -> str | None:
    """``running``/``deallocated``/... from ``properties.instanceView.statuses`` (None if absent)."""
    props = vm.get("properties") or {}
    view = props.get("instanceView") or vm.get("instanceView") or {}
    for status in view.get("statuses") or []:
        code = str(status.get("code", ""))
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _window(series: MetricSeries | None, start: datetime, end: datetime) -> list[MetricPoint]:
    if series is None:
        return []
    return [p for p in series.points if start <= p.timestamp < end]


def evaluate(
    vm: Mapping[str, Any],
    series: Sequence[MetricSeries],
    cost: ResourceCost | None,
    params: Params,
    now: datetime,
) -> Verdict | None:
    """Judge one VM. None means "not enough data to say either way"."""
    state = power_state(vm)
    if state is not None and state != "running":
        return Verdict(False, f"VM is {state}", {"power_state": state})
    named = {s.name.lower(): s for s in series}
    start = now - timedelta(days=params.lookback_days)
    cpu_pts = [p for p in _window(named.get(CPU), start, now) if p.maximum is not None or p.average is not None]
    expected_hours = params.lookback_days * 24
    coverage = len(cpu_pts) / expected_hours
    if coverage < params.min_coverage:
        return None
    cpu_max = [p.maximum if p.maximum is not None else float(p.average or 0.0) for p in cpu_pts]
    p95_max = _percentile(cpu_max, 0.95)
    recent_start = now - timedelta(days=params.recent_days)
    recent_avg = [p.average for p in cpu_pts if p.timestamp >= recent_start and p.average is not None]
    max_recent_avg = max(recent_avg) if recent_avg else math.inf
    net_pts = [p.total for p in _window(named.get(NET_OUT), start, now) if p.total is not None]
    net_p95 = _percentile(net_pts, 0.95) if len(net_pts) >= params.min_coverage * expected_hours else None

    evidence: dict[str, Any] = {
        "power_state": state or "unknown",
        "lookback_days": params.lookback_days,
        "cpu_hours": len(cpu_pts),
        "cpu_p95_of_max_percent": round(p95_max, 3),
        "cpu_max_of_avg_recent_percent": round(max_recent_avg, 3) if recent_avg else None,
        "recent_days": params.recent_days,
        "network_out_p95_bytes_per_hour": round(net_p95, 1) if net_p95 is not None else None,
        "thresholds": {
            "cpu_p95_max_percent": params.cpu_p95_max_percent,
            "cpu_recent_avg_max_percent": params.cpu_recent_avg_max_percent,
            "network_out_p95_max_bytes_per_hour": params.network_out_p95_max_bytes_per_hour,
        },
    }
    if cost is not None:
        evidence["cost"] = cost.to_evidence()
    failed = []
    if not p95_max < params.cpu_p95_max_percent:
        failed.append(f"P95 of max CPU {p95_max:.1f} % >= {params.cpu_p95_max_percent:g} %")
    if not max_recent_avg <= params.cpu_recent_avg_max_percent:
        failed.append(f"max average CPU over {params.recent_days} d is above {params.cpu_recent_avg_max_percent:g} %")
    if net_p95 is None:
        failed.append("no Network Out Total data")
    elif net_p95 > params.network_out_p95_max_bytes_per_hour:
        failed.append(f"P95 outbound network {net_p95 / 1e6:.1f} MB/h is not low")
    if failed:
        return Verdict(False, "; ".join(failed), evidence)
    return Verdict(
        True,
        f"P95 of max CPU {p95_max:.2f} % over {params.lookback_days} d, max average CPU "
        f"{max_recent_avg:.2f} % over {params.recent_days} d, P95 outbound {(net_p95 or 0) / 1e6:.2f} MB/h",
        evidence,
    )
