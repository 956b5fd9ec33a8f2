"""Idle detector: resources that cost money while doing nothing.

``detect(resources=..., metrics=..., costs=..., config=..., now=...)`` is pure: a
function of ARM resource dicts, Azure Monitor metric series (keyed by canonical
resource id), the normalized cost frame (vigil/costframe.py columns, or None),
the ``detectors.idle`` config and ``now``. It reports FIRING and RESOLVED
findings. Figures (monthly waste, CPU percentiles) go to annotations and
evidence, never to labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from detectors.base import RuleMeta
from detectors.config import IdleConfig
from detectors.idle.costs import resource_costs
from detectors.idle.rules.vm_shutdown_candidate.check import Params, evaluate
from detectors.registry import rule
from vigil.model import Finding, ResourceRef, Status
from vigil.sources import MetricSeries

__all__ = ["FAMILY", "detect"]

FAMILY = "idle"
VM_TYPE = "microsoft.compute/virtualmachines"


def _meta_params(meta: RuleMeta) -> Mapping[str, Any]:
    params = meta.extra.get("parameters")
    return params if isinstance(params, Mapping) else {}


def detect(
    *,
    resources: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Sequence[MetricSeries]],
    costs: Any,
    config: IdleConfig,
    now: datetime,
) -> list[Finding]:
    if not config.enabled:
        return []
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    meta = rule("vm_shutdown_candidate")
    raw = _meta_params(meta)
    params = Params.from_meta(raw, lookback_days=config.lookback_days, cpu_p95_max_percent=config.cpu_p95_max_percent)
    window = int(raw.get("waste_window_days", 30))
    vms = [r for r in resources if str(r.get("type", "")).lower() == VM_TYPE and isinstance(r.get("id"), str)]
    costs_by_id = resource_costs(costs, (str(v["id"]) for v in vms), now, window)
    findings: list[Finding] = []
    for vm in sorted(vms, key=lambda r: str(r["id"]).lower()):
        ref = ResourceRef.from_id(str(vm["id"]), location=str(vm.get("location", "")))
        cost = costs_by_id.get(ref.id)
        verdict = evaluate(vm, metrics.get(ref.id, ()), cost, params, now)
        if verdict is None:
            continue
        annotations = {
            "summary": f"{meta.title}: {ref.name}" if verdict.idle else f"{ref.name} is no longer an idle VM",
            "description": verdict.reason,
            "remediation": meta.remediation,
            "risk": meta.risk,
        }
        if meta.runbook_url:
            annotations["runbook_url"] = meta.runbook_url
        if cost is not None and cost.days_with_cost:
            annotations["monthly_waste"] = f"{cost.monthly:.2f}"
            annotations["currency"] = cost.currency
            annotations["waste_basis"] = f"actual cost of the last {cost.days_with_cost} billed days, scaled to 30 days"
        else:
            annotations["waste_basis"] = "no cost rows for this resource: waste unknown"
        size = (vm.get("properties") or {}).get("hardwareProfile", {}).get("vmSize")
        if size:
            annotations["vm_size"] = str(size)
        findings.append(
            Finding(
                detector=FAMILY,
                rule=meta.id,
                status=Status.FIRING if verdict.idle else Status.RESOLVED,
                severity=meta.severity,
                resource=ref,
                observed_at=now,
                annotations=annotations,
                evidence=verdict.evidence,
            )
        )
    return findings
