"""vm_shutdown_candidate: a running VM that Azure Advisor would tell you to shut down.

Azure Advisor's shutdown criteria (https://learn.microsoft.com/azure/advisor/advisor-cost-recommendations),
over the ``lookback_days`` (7) before ``now``, on hourly metrics:

* the P95 of hourly *maximum* Percentage CPU is below ``cpu_p95_max_percent`` (3 %),
* the P100 (max) of hourly *average* CPU over the last ``recent_days`` (3) is at most
  ``cpu_recent_avg_max_percent`` (2 %), and
* outbound network utilization is below ``network_out_max_percent`` (2 %): the P95 of
  hourly Network Out Total, as a rate, over the VM size's expected bandwidth.

RESOLVED when the VM is running with enough data and any test fails, or when it is no
longer running (deallocated or stopped). No verdict when CPU coverage is too thin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors.idle import prices
from detectors.idle.common import QUIET_VERDICT, Context, Verdict, arm_props
from detectors.idle.vmstats import CPU, NET_OUT, ColumnWindow, VmWindow, cpu_failing

__all__ = ["CPU", "NET_OUT", "RULE", "certainly_compliant", "cpu_window", "evaluate", "vm_size"]

RULE = "vm_shutdown_candidate"


def vm_size(vm: Mapping[str, Any]) -> str:
    return str((arm_props(vm).get("hardwareProfile") or {}).get("vmSize") or "")


def cpu_window(vm: Mapping[str, Any], ctx: Context, days: int) -> tuple[VmWindow | ColumnWindow, float] | None:
    """The VM's window statistics and CPU coverage over the last ``days``; None if coverage is too thin."""
    win: VmWindow | ColumnWindow = ctx.vm_window(str(vm["id"]), days)
    coverage = win.cpu_hours / win.expected_points if win.expected_points else 0.0
    if coverage < ctx.config.min_coverage or win.cpu_hours == 0:
        return None
    return win, coverage


def certainly_compliant(ctx: Context) -> set[str]:
    """VM ids whose CPU tests fail (vectorised over the columnar windows): never FIRING."""
    cfg = ctx.config
    return cpu_failing(ctx.vm_table(cfg.lookback_days), 0.95, cfg.cpu_p95_max_percent, cfg.cpu_recent_avg_max_percent)


def evaluate(vm: Mapping[str, Any], ctx: Context) -> Verdict | None:
    cfg = ctx.config
    state = ctx.power_state(vm)
    if state is not None and state != "running":
        return Verdict(False, f"VM is {state}", {"power_state": state})
    found = cpu_window(vm, ctx, cfg.lookback_days)
    if found is None:
        return None
    win, coverage = found
    p95_max = win.percentile(0.95)
    max_recent_avg = win.max_recent_avg if win.max_recent_avg is not None else math.inf
    cpu_fails = not (p95_max < cfg.cpu_p95_max_percent and max_recent_avg <= cfg.cpu_recent_avg_max_percent)
    if cpu_fails and ctx.quiet(RULE, str(vm["id"])):
        return QUIET_VERDICT

    size = vm_size(vm)
    bandwidth = prices.vm_bandwidth_mbps(size) or cfg.network_default_mbps
    per_hour = win.net_hours_per_point
    enough_net = win.net_points and win.net_points >= cfg.min_coverage * win.net_expected_points
    net_p95 = win.net_percentile(0.95) if enough_net else None
    net_mbps = net_p95 * 8 / (per_hour * 3600) / 1e6 if net_p95 is not None else None
    net_pct = net_mbps / bandwidth * 100 if net_mbps is not None else None

    evidence: dict[str, Any] = {
        "power_state": state or "unknown",
        "vm_size": size,
        "lookback_days": cfg.lookback_days,
        "cpu_hours": win.cpu_hours,
        "coverage": round(coverage, 3),
        "cpu_p95_of_max_percent": round(p95_max, 3),
        "cpu_max_of_avg_recent_percent": round(max_recent_avg, 3) if win.max_recent_avg is not None else None,
        "recent_days": cfg.recent_days,
        "network_out_p95_bytes_per_hour": round(net_p95 / per_hour, 1) if net_p95 is not None else None,
        "network_out_p95_mbps": round(net_mbps, 4) if net_mbps is not None else None,
        "network_bandwidth_mbps": bandwidth,
        "network_out_p95_percent": round(net_pct, 4) if net_pct is not None else None,
        "thresholds": {
            "cpu_p95_max_percent": cfg.cpu_p95_max_percent,
            "cpu_recent_avg_max_percent": cfg.cpu_recent_avg_max_percent,
            "network_out_max_percent": cfg.network_out_max_percent,
        },
    }
    failed = []
    if not p95_max < cfg.cpu_p95_max_percent:
        failed.append(f"P95 of max CPU {p95_max:.2f} % >= {cfg.cpu_p95_max_percent:g} %")
    if not max_recent_avg <= cfg.cpu_recent_avg_max_percent:
        failed.append(f"max average CPU over {cfg.recent_days} d is above {cfg.cpu_recent_avg_max_percent:g} %")
    if net_pct is None:
        failed.append("no Network Out Total data")
    elif not net_pct < cfg.network_out_max_percent:
        failed.append(f"P95 outbound network {net_pct:.2f} % of {bandwidth:g} Mbit/s is not low")
    if failed:
        return Verdict(False, "; ".join(failed), evidence)
    hourly = prices.vm_hourly(size)
    estimate = hourly * cfg.hours_per_month if hourly is not None else None
    source = f"list price of {size} ({hourly} USD/h x {cfg.hours_per_month:g} h)" if hourly is not None else ""
    return Verdict(
        True,
        f"P95 of max CPU {p95_max:.2f} % over {cfg.lookback_days} d, max average CPU {max_recent_avg:.2f} % over "
        f"{cfg.recent_days} d, P95 outbound {net_pct:.3f} % of {bandwidth:g} Mbit/s",
        evidence,
        estimate_monthly=estimate,
        estimate_source=source,
    )
