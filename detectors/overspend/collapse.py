"""One cost event, one alert: collapse anomalies at nested scopes into the most specific one.

A spike on one VM moves its resource, its resource group, its service and its subscription on
the same day; each scope is scored on its own and fires. :func:`collapse_nested` groups firing
cost anomalies of one day whose top contributing resource is the same (one event), keeps the most
specific scope that explains most (more than half) of the group's largest excess, and gives it
the others as a drill-down (``evidence["drill_down"]``, broadest scope first, and the same as
one line per scope in ``annotations["drill_down"]``). Pure: findings in, findings out; others pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.model import Finding, Status

__all__ = ["SPECIFICITY", "collapse_nested"]

# Most specific first. "Most of the excess" is a majority (> 1/2): a definition, not a tuned value.
SPECIFICITY = ("resource", "service", "resource_group", "subscription")
_MAJORITY = 0.5


def _rank(f: Finding) -> int:
    kind = f.labels.get("scope_kind", "")
    return SPECIFICITY.index(kind) if kind in SPECIFICITY else len(SPECIFICITY)


def _event_key(f: Finding, rule: str) -> tuple[str, str] | None:
    if f.rule != rule or f.status is not Status.FIRING:
        return None
    top = f.evidence.get("resources") or []
    if not top or not isinstance(top[0], dict) or not top[0].get("id"):
        return None
    return str(f.evidence.get("day", "")), str(top[0]["id"]).lower()


def _impact(f: Finding) -> float:
    try:
        return float(f.evidence.get("impact") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _step(f: Finding) -> dict[str, Any]:
    return {
        "scope_kind": f.labels.get("scope_kind", ""),
        "scope": f.labels.get("scope", ""),
        "resource_id": f.resource.id,
        "actual": f.evidence.get("actual"),
        "expected": f.evidence.get("expected"),
        "impact": f.evidence.get("impact"),
        "impact_percent": f.evidence.get("impact_percent"),
    }


def _figure(value: Any, currency: str) -> str:
    return f"{float(value):,.2f} {currency}".strip() if isinstance(value, int | float) else "?"


def _line(step: dict[str, Any], currency: str) -> str:
    scope = str(step["scope"])
    name = scope if step["scope_kind"] == "subscription" else scope.rsplit("/", 1)[-1] or "all"
    impact = step["impact"]
    sign = "+" if isinstance(impact, int | float) and impact >= 0 else ""
    return (
        f"{step['scope_kind'].replace('_', ' ')} {name}: {_figure(step['actual'], currency)}, "
        f"expected {_figure(step['expected'], currency)} ({sign}{_figure(impact, currency)})"
    )


def collapse_nested(findings: Sequence[Finding], *, rule: str) -> list[Finding]:
    """``findings`` with each nested-scope group of firing ``rule`` anomalies reduced to one."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        key = _event_key(f, rule)
        if key is not None:
            groups.setdefault(key, []).append(f)
    keep: dict[int, Finding] = {}
    drop: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        largest = max(_impact(m) for m in members)
        ranked = sorted(members, key=lambda m: (_rank(m), -_impact(m), m.resource.id))
        chosen = next((m for m in ranked if _impact(m) > _MAJORITY * largest), ranked[0])
        broad_first = sorted(members, key=lambda m: (-_rank(m), m.resource.id))
        steps = [_step(m) for m in broad_first]
        currency = str(chosen.evidence.get("currency", ""))
        annotations = dict(chosen.annotations)
        annotations["drill_down"] = "\n".join(_line(s, currency) for s in steps)
        evidence = dict(chosen.evidence)
        evidence["drill_down"] = steps
        keep[id(chosen)] = replace(chosen, annotations=annotations, evidence=evidence)
        drop.update(id(m) for m in members if m is not chosen)
    return [keep.get(id(f), f) for f in findings if id(f) not in drop]
