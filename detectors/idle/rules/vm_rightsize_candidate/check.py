"""vm_rightsize_candidate: a running VM whose P99 CPU stays below 30 % (Azure Optimization Engine).

Azure Optimization Engine defaults (https://learn.microsoft.com/cloud-computing/finops/toolkit/
optimization-engine/customize-optimization-engine): CPU aggregated at percentile 99
(``AzureOptimization_PerfPercentileCpu``), threshold 30 % (``AzureOptimization_PerfThresholdCpuPercentage``),
7 days of 1-hour grain (``AzureOptimization_RecommendPerfPeriodInDays``, ``..PerfTimeGrain``).

FIRING when the ``rightsize_cpu_percentile`` of hourly *maximum* CPU (average where the
maximum is missing) over ``rightsize_lookback_days`` is below ``rightsize_cpu_max_percent``.
Waste: ``rightsize_saving_fraction`` (one size down halves the price) of the VM's cost.
The detector reports it RESOLVED (superseded) for a VM that is a shutdown candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.idle import prices
from detectors.idle.common import QUIET_VERDICT, Context, Verdict
from detectors.idle.rules.vm_shutdown_candidate.check import cpu_window, vm_size
from detectors.idle.vmstats import cpu_failing

__all__ = ["certainly_compliant", "evaluate"]


def certainly_compliant(ctx: Context) -> set[str]:
    """VM ids whose CPU percentile is not below the threshold (vectorised): never FIRING."""
    cfg = ctx.config
    q = cfg.rightsize_cpu_percentile / 100
    return cpu_failing(ctx.vm_table(cfg.rightsize_lookback_days), q, cfg.rightsize_cpu_max_percent)


def evaluate(vm: Mapping[str, Any], ctx: Context) -> Verdict | None:
    cfg = ctx.config
    state = ctx.power_state(vm)
    if state is not None and state != "running":
        return Verdict(False, f"VM is {state}", {"power_state": state})
    found = cpu_window(vm, ctx, cfg.rightsize_lookback_days)
    if found is None:
        return None
    win, coverage = found
    q = cfg.rightsize_cpu_percentile
    value = win.percentile(q / 100)
    if not value < cfg.rightsize_cpu_max_percent and ctx.quiet("vm_rightsize_candidate", str(vm["id"])):
        return QUIET_VERDICT
    size = vm_size(vm)
    evidence: dict[str, Any] = {
        "power_state": state or "unknown",
        "vm_size": size,
        "lookback_days": cfg.rightsize_lookback_days,
        "cpu_hours": win.cpu_hours,
        "coverage": round(coverage, 3),
        f"cpu_p{q:g}_of_max_percent": round(value, 3),
        "thresholds": {"cpu_percentile": q, "cpu_max_percent": cfg.rightsize_cpu_max_percent},
        "saving_fraction": cfg.rightsize_saving_fraction,
    }
    if not value < cfg.rightsize_cpu_max_percent:
        return Verdict(False, f"P{q:g} of max CPU {value:.2f} % >= {cfg.rightsize_cpu_max_percent:g} %", evidence)
    hourly = prices.vm_hourly(size)
    frac = cfg.rightsize_saving_fraction
    return Verdict(
        True,
        f"P{q:g} of max CPU {value:.2f} % < {cfg.rightsize_cpu_max_percent:g} % over {cfg.rightsize_lookback_days} d: "
        f"a smaller size fits",
        evidence,
        waste_fraction=frac,
        estimate_monthly=hourly * cfg.hours_per_month * frac if hourly is not None else None,
        estimate_source=(
            f"{frac:g} x list price of {size} ({hourly} USD/h x {cfg.hours_per_month:g} h)"
            if hourly is not None
            else ""
        ),
    )
