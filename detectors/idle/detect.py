"""Idle detector: resources that cost money while doing nothing.

``detect(resources=..., metrics=..., costs=..., config=..., now=..., previous=...)`` is pure:
a function of ARM resource dicts, Azure Monitor metric series (keyed by canonical
resource id), the normalized cost frame (core/costframe.py columns, or None), the
``detectors.idle`` config, ``now`` and, optionally, the idle findings that were firing
before. Each rule listed in ``detectors/idle/rules.txt`` judges the resources of its
type and reports FIRING, or RESOLVED when the resource is compliant now (active again,
deallocated, attached...).

* ``previous=None`` (stateless): RESOLVED for every resource judged compliant.
* ``previous`` given (what was firing: idle Finding objects or their ``to_dict()``, or the
  idle alerts themselves, ``Alert`` objects or their ``to_dict()``, e.g. from the alert
  store): RESOLVED only for those of them that are compliant now, plus
  those whose resource is gone from the inventory ("deleted"), with the same labels
  so the alert's fingerprint matches. Nothing is said about a resource without data.

Figures (monthly waste, CPU percentiles) go to annotations and evidence, never to labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model import Alert, Finding, ResourceRef, Status
from core.sources import MetricSeries
from detectors.base import Family, RuleMeta
from detectors.config import IdleConfig
from detectors.idle.common import Context, Verdict
from detectors.idle.costs import Waste, resource_costs, waste_of
from detectors.idle.rules.ml_cluster_idle_nodes import check as ml_cluster
from detectors.idle.rules.ml_compute_instance_idle import check as ml_instance
from detectors.idle.rules.unassociated_public_ip import check as public_ip
from detectors.idle.rules.unattached_disk import check as disk
from detectors.idle.rules.vm_rightsize_candidate import check as vm_rightsize
from detectors.idle.rules.vm_shutdown_candidate import check as vm_shutdown
from detectors.idle.rules.vm_stopped_not_deallocated import check as vm_stopped
from detectors.registry import family_folders, rule

__all__ = ["FAMILY", "RULES", "detect"]

FAMILY: Family = "idle"
VM = "microsoft.compute/virtualmachines"
COMPUTE = "microsoft.machinelearningservices/workspaces/computes"
DISK = "microsoft.compute/disks"
PIP = "microsoft.network/publicipaddresses"

Check = Callable[[Mapping[str, Any], Context], Verdict | None]


def _compute_of(kind: str) -> Callable[[Mapping[str, Any]], bool]:
    def match(r: Mapping[str, Any]) -> bool:
        return str((r.get("properties") or {}).get("computeType", "")).lower() == kind

    return match


def _any(_r: Mapping[str, Any]) -> bool:
    return True


# rule id -> (resource type, extra filter, check). Explicit: a rule folder listed in
# rules.txt without an entry here is an error (see _checks).
RULES: dict[str, tuple[str, Callable[[Mapping[str, Any]], bool], Check]] = {
    "vm_shutdown_candidate": (VM, _any, vm_shutdown.evaluate),
    "vm_rightsize_candidate": (VM, _any, vm_rightsize.evaluate),
    "vm_stopped_not_deallocated": (VM, _any, vm_stopped.evaluate),
    "ml_compute_instance_idle": (COMPUTE, _compute_of("computeinstance"), ml_instance.evaluate),
    "ml_cluster_idle_nodes": (COMPUTE, _compute_of("amlcompute"), ml_cluster.evaluate),
    "unattached_disk": (DISK, _any, disk.evaluate),
    "unassociated_public_ip": (PIP, _any, public_ip.evaluate),
}
SUPERSEDES = {"vm_rightsize_candidate": "vm_shutdown_candidate"}
# Stateful mode only: resources a rule can tell at once (vectorised) will not fire. Their
# compliant verdict would not be reported unless they were firing before, so they are skipped.
PREFILTERS: dict[str, Callable[[Context], set[str]]] = {
    "vm_shutdown_candidate": vm_shutdown.certainly_compliant,
    "vm_rightsize_candidate": vm_rightsize.certainly_compliant,
}


def _checks() -> list[tuple[RuleMeta, str, Callable[[Mapping[str, Any]], bool], Check]]:
    out = []
    for folder in family_folders(FAMILY):
        if folder.name not in RULES:
            raise KeyError(f"idle rule {folder.name!r} is listed in rules.txt but has no check in detect.RULES")
        rtype, keep, check = RULES[folder.name]
        out.append((rule(folder.name), rtype, keep, check))
    return out


def _from_alert(labels: Mapping[str, str], observed: datetime) -> Finding | None:
    """A firing idle alert (Alertmanager-style labels) back as the Finding it came from (same fingerprint)."""
    if labels.get("detector") != FAMILY or not labels.get("alertname") or not labels.get("resource_id"):
        return None
    return Finding.from_alert_labels(labels, observed_at=observed)


def _previous_keys(previous: Iterable[Any], now: datetime) -> dict[tuple[str, str], Finding]:
    """Firing idle findings from Finding objects, ``Finding.to_dict()`` dicts, ``Alert`` objects or alert dicts."""
    out: dict[tuple[str, str], Finding] = {}
    for item in previous:
        f: Finding | None
        if isinstance(item, Finding):
            f = item
        elif isinstance(item, Alert):
            f = _from_alert(item.labels, now) if item.ends_at is None else None
        elif isinstance(item, Mapping) and "rule" in item:
            f = Finding.from_dict(item)
        elif isinstance(item, Mapping) and isinstance(item.get("labels"), Mapping):
            firing = item.get("status", "firing") == "firing" and not item.get("endsAt")
            f = _from_alert(item["labels"], now) if firing else None
        else:
            f = None
        if f is not None and f.detector == FAMILY and f.status is Status.FIRING:
            out[(f.rule, f.resource.id)] = f
    return out


def _first(item: tuple[str, Any]) -> str:
    return item[0]


def detect(
    *,
    resources: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Sequence[MetricSeries]],
    costs: Any,
    config: IdleConfig,
    now: datetime,
    previous: Iterable[Any] | None = None,
) -> list[Finding]:
    if not config.enabled:
        return []
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    by_type: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}  # type -> (canonical id, resource)
    for r in resources:
        rid = r.get("id")
        if isinstance(rid, str):
            by_type.setdefault(str(r.get("type", "")).lower(), []).append((rid.lower(), r))
    for group in by_type.values():
        group.sort(key=_first)
    vm_ids = tuple(rid for rid, _r in by_type.get(VM, ()))
    before = _previous_keys(previous, now) if previous is not None else None
    keys = frozenset(before) if before is not None else None
    ctx = Context(config=config, now=now, metrics=metrics, vm_ids=vm_ids, previous=keys)

    verdicts: list[tuple[RuleMeta, ResourceRef, Verdict]] = []
    firing_keys: set[tuple[str, str]] = set()
    refs: dict[str, ResourceRef] = {}
    seen: set[str] = set()
    for meta, rtype, keep, check in _checks():
        sup = SUPERSEDES.get(meta.id)
        every = keep is _any
        skip: set[str] = set()
        prefilter = PREFILTERS.get(meta.id)
        if before is not None and prefilter is not None and by_type.get(rtype):
            skip = prefilter(ctx).difference(rid for rule_id, rid in before if rule_id == meta.id)
        for rid, res in by_type.get(rtype, ()):
            if not every and not keep(res):
                continue
            seen.add(rid)
            if rid in skip:
                continue  # certainly compliant and not firing before: nothing to report
            verdict = check(res, ctx)
            if verdict is None:
                continue
            if verdict.firing and sup and (sup, rid) in firing_keys:
                verdict = Verdict(False, f"superseded by {sup}", dict(verdict.evidence))
            if verdict.firing:
                firing_keys.add((meta.id, rid))
            elif before is not None and (meta.id, rid) not in before:
                continue  # stateful mode: only what was firing can resolve
            ref = refs.get(rid)
            if ref is None:
                ref = refs[rid] = ResourceRef.from_id(rid, location=str(res.get("location", "")))
            verdicts.append((meta, ref, verdict))

    costs_by_id = resource_costs(costs, (ref.id for _m, ref, v in verdicts if v.firing), now, config.waste_window_days)
    findings = [
        _finding(meta, ref, verdict, waste_of(verdict, costs_by_id.get(ref.id)) if verdict.firing else None, now)
        for meta, ref, verdict in verdicts
    ]
    for (rule_id, rid), prior in sorted((before or {}).items()):
        if rid in seen or rule_id not in RULES:
            continue
        findings.append(_deleted(rule(rule_id), prior, now))
    return findings


def _annotations(meta: RuleMeta, ref: ResourceRef, verdict: Verdict) -> dict[str, str]:
    ann = {
        "summary": f"{meta.title}: {ref.name}"
        if verdict.firing
        else f"{ref.name}: {meta.id} resolved ({verdict.reason})",
        "description": verdict.reason,
        "remediation": meta.remediation,
        "risk": meta.risk,
    }
    if meta.runbook_url:
        ann["runbook_url"] = meta.runbook_url
    return ann


def _finding(meta: RuleMeta, ref: ResourceRef, verdict: Verdict, waste: Waste | None, now: datetime) -> Finding:
    annotations = _annotations(meta, ref, verdict)
    evidence = dict(verdict.evidence)
    for key in ("vm_size", "idle_shutdown"):
        if evidence.get(key):
            annotations[key] = str(evidence[key])
    if waste is not None:
        annotations.update(waste.annotations())
        evidence["waste"] = waste.to_evidence()
        if waste.cost is not None:
            evidence["cost"] = waste.cost.to_evidence()
    return Finding(
        detector=FAMILY,
        rule=meta.id,
        status=Status.FIRING if verdict.firing else Status.RESOLVED,
        severity=meta.severity,
        resource=ref,
        observed_at=now,
        annotations=annotations,
        evidence=evidence,
    )


def _deleted(meta: RuleMeta, before: Finding, now: datetime) -> Finding:
    ref = before.resource
    return Finding(
        detector=FAMILY,
        rule=meta.id,
        status=Status.RESOLVED,
        severity=before.severity,
        resource=ref,
        observed_at=now,
        labels=before.labels,
        annotations={
            "summary": f"{ref.name}: {meta.id} resolved (resource deleted)",
            "description": "the resource is no longer in the inventory",
            "remediation": meta.remediation,
            "risk": meta.risk,
        },
        evidence={"deleted": True},
    )
