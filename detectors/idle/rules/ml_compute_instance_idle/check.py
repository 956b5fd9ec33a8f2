"""ml_compute_instance_idle: an Azure ML compute instance running with no activity for N hours.

Azure Policy can only check that idle shutdown is *configured*; this rule looks at what
the instance actually did. Activity comes from the workspace's platform metrics
(https://learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning-reference):
``CpuUtilizationPercentage`` and ``GpuUtilizationPercentage`` (dimensions ``ComputeName``,
``InstanceId``, ``RunId``), read from the workspace's series filtered on ``ComputeName``
(or from series stored under the compute's own id).

FIRING when the instance state is Running and, over the last ``ml_instance_idle_hours``:
enough hours have CPU data (``min_coverage``), every hourly max CPU is below
``ml_instance_cpu_max_percent``, every hourly max GPU (if the instance reports GPU) is
below ``ml_instance_gpu_max_percent``, and no series with a ``RunId`` dimension (a job)
has a data point. The finding also says whether idle shutdown is configured
(``properties.properties.idleTimeBeforeShutdown`` or a ``schedules.computeStartStop`` stop
schedule). RESOLVED when the instance is active again, stopped or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from core.sources import MetricPoint, MetricSeries
from detectors.idle import prices
from detectors.idle.common import Context, Verdict, arm_props, find_series, interval_hours, values, window

__all__ = ["compute_series", "evaluate", "idle_shutdown", "inner_props", "workspace_id"]

CPU = "CpuUtilizationPercentage"
GPU = "GpuUtilizationPercentage"


def inner_props(compute: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = arm_props(compute).get("properties")
    return inner if isinstance(inner, Mapping) else {}


def workspace_id(compute_id: str) -> str:
    low = compute_id.lower()
    idx = low.rfind("/computes/")
    return low[:idx] if idx >= 0 else low


def compute_series(compute: Mapping[str, Any], ctx: Context, name: str, dim: str) -> list[MetricSeries]:
    """The compute's series of one metric: under its own id, else the workspace's filtered on ``dim``."""
    rid = str(compute["id"]).lower()
    own = find_series(ctx.series_of(rid), name)
    if own:
        return own
    short = rid.rsplit("/", 1)[-1]
    return find_series(ctx.series_of(workspace_id(rid)), name, {dim: short})


def idle_shutdown(compute: Mapping[str, Any]) -> str:
    """``PT60M`` (the idleTimeBeforeShutdown), ``schedule`` (a stop schedule) or ``not configured``."""
    inner = inner_props(compute)
    idle = inner.get("idleTimeBeforeShutdown")
    if idle:
        return str(idle)
    schedules = inner.get("schedules") or {}
    for sched in (schedules.get("computeStartStop") or []) if isinstance(schedules, Mapping) else []:
        if str(sched.get("action", "")).lower() == "stop" and str(sched.get("status", "enabled")).lower() == "enabled":
            return "schedule"
    return "not configured"


def _has_run(series: Sequence[MetricSeries], start: Any, end: Any) -> bool:
    for s in series:
        run = next((v for k, v in s.dimensions.items() if k.lower() == "runid"), "")
        if run and run.lower() not in {"none", "null"} and values(window(s, start, end), _any):
            return True
    return False


def _any(p: MetricPoint) -> float | None:
    for v in (p.maximum, p.average, p.total, p.count):
        if v is not None:
            return float(v)
    return None


def _high(p: MetricPoint) -> float | None:
    return p.maximum if p.maximum is not None else p.average


def evaluate(compute: Mapping[str, Any], ctx: Context) -> Verdict | None:
    cfg = ctx.config
    inner = inner_props(compute)
    state = str(inner.get("state") or "")
    size = str(inner.get("vmSize") or "")
    shutdown = idle_shutdown(compute)
    evidence: dict[str, Any] = {"state": state or "unknown", "vm_size": size, "idle_shutdown": shutdown}
    if state and state.lower() != "running":
        return Verdict(False, f"compute instance is {state}", evidence)
    hours = cfg.ml_instance_idle_hours
    start, end = ctx.now - timedelta(hours=hours), ctx.now
    cpu_all = compute_series(compute, ctx, CPU, "ComputeName")
    gpu_all = compute_series(compute, ctx, GPU, "ComputeName")
    busy_run = _has_run([*cpu_all, *gpu_all], start, end)
    cpu_series = [s for s in cpu_all if not any(k.lower() == "runid" and v for k, v in s.dimensions.items())] or cpu_all
    cpu_pts = [p for s in cpu_series for p in window(s, start, end)]
    cpu_vals = values(cpu_pts, _high)
    per = interval_hours(cpu_series[0]) if cpu_series else 1.0
    hours_with_data = len({p.timestamp for p in cpu_pts if _high(p) is not None}) * per
    if hours_with_data < cfg.min_coverage * hours:
        return None
    gpu_vals = values([p for s in gpu_all for p in window(s, start, end)], _high)
    cpu_max = max(cpu_vals)
    gpu_max = max(gpu_vals) if gpu_vals else None
    evidence.update(
        idle_hours_window=hours,
        cpu_hours=round(hours_with_data, 2),
        cpu_max_percent=round(cpu_max, 3),
        gpu_max_percent=round(gpu_max, 3) if gpu_max is not None else None,
        jobs_in_window=busy_run,
        thresholds={
            "cpu_max_percent": cfg.ml_instance_cpu_max_percent,
            "gpu_max_percent": cfg.ml_instance_gpu_max_percent,
        },
    )
    failed = []
    if not cpu_max < cfg.ml_instance_cpu_max_percent:
        failed.append(f"max CPU {cpu_max:.2f} % >= {cfg.ml_instance_cpu_max_percent:g} %")
    if gpu_max is not None and not gpu_max < cfg.ml_instance_gpu_max_percent:
        failed.append(f"max GPU {gpu_max:.2f} % >= {cfg.ml_instance_gpu_max_percent:g} %")
    if busy_run:
        failed.append("a job ran on it")
    if failed:
        return Verdict(False, "; ".join(failed), evidence)
    hourly = prices.vm_hourly(size)
    gpu_text = f", GPU max {gpu_max:.2f} %" if gpu_max is not None else ""
    return Verdict(
        True,
        f"running with no job and CPU max {cpu_max:.2f} %{gpu_text} for the last {hours} h; idle shutdown: {shutdown}",
        evidence,
        estimate_monthly=hourly * cfg.hours_per_month if hourly is not None else None,
        estimate_source=f"list price of {size} ({hourly} USD/h x {cfg.hours_per_month:g} h)" if hourly else "",
    )
