"""One cost event at nested scopes becomes one finding with a drill-down (detectors/overspend/collapse.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import Finding, Severity, Status
from detectors.overspend.anomalies import RULE_ID
from detectors.overspend.collapse import collapse_nested
from detectors.overspend.scopes import scope_labels, scope_resource

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SUB = "6513270e-269e-4d37-b2a7-4de452e6b438"
VM = f"/subscriptions/{SUB}/resourcegroups/rg-batch/providers/microsoft.compute/virtualmachines/vm-gpu"
OTHER = f"/subscriptions/{SUB}/resourcegroups/rg-web/providers/microsoft.web/sites/app"


def _f(kind: str, value: str, impact: float, *, top: str = VM, day: str = "2026-11-24", **kw: Any) -> Finding:
    return Finding(
        detector="overspend",
        rule=kw.get("rule", RULE_ID),
        status=kw.get("status", Status.FIRING),
        severity=Severity.MEDIUM,
        resource=scope_resource(kind, value),
        observed_at=NOW,
        labels=scope_labels(kind, value),
        annotations={"summary": f"{kind} {value}"},
        evidence={
            "day": day,
            "currency": "USD",
            "actual": 10 + impact,
            "expected": 10.0,
            "impact": impact,
            "resources": [{"id": top, "delta": impact}],
        },
    )


def _nested(top: str = VM) -> list[Finding]:
    return [
        _f("subscription", SUB, 58.18, top=top),
        _f("resource_group", f"{SUB}/rg-batch", 58.18, top=top),
        _f("service", "Virtual Machines", 61.01, top=top),
        _f("resource", VM, 58.14, top=top),
    ]


def test_four_nested_scopes_become_the_resource_with_a_drill_down() -> None:
    (kept,) = collapse_nested(_nested(), rule=RULE_ID)
    assert kept.labels["scope_kind"] == "resource"
    assert kept.resource.id == VM
    kinds = [s["scope_kind"] for s in kept.evidence["drill_down"]]
    assert kinds == ["subscription", "resource_group", "service", "resource"]  # broadest first
    lines = kept.annotations["drill_down"].splitlines()
    assert lines[1] == "resource group rg-batch: 68.18 USD, expected 10.00 USD (+58.18 USD)"
    assert lines[0].startswith(f"subscription {SUB}:")


def test_a_specific_scope_explaining_a_minority_is_not_kept() -> None:
    """The resource moved by 10 of a 58 excess: the most specific scope with a majority is kept."""
    findings = [*_nested()[:3], _f("resource", VM, 10.0)]
    (kept,) = collapse_nested(findings, rule=RULE_ID)
    assert kept.labels["scope_kind"] == "service"


def test_different_events_and_other_findings_pass_through() -> None:
    other = _f("resource", OTHER, 30.0, top=OTHER)
    next_day = _f("subscription", SUB, 40.0, day="2026-11-23")
    resolved = _f("subscription", SUB, 0.0, status=Status.RESOLVED)
    budget = _f("subscription", SUB, 5.0, rule="overspend_budget_actual")
    out = collapse_nested([*_nested(), other, next_day, resolved, budget], rule=RULE_ID)
    assert len(out) == 5
    assert out[1:] == [other, next_day, resolved, budget]  # untouched, in order


def test_a_lone_anomaly_is_unchanged() -> None:
    lone = _f("resource_group", f"{SUB}/rg-batch", 12.0)
    assert collapse_nested([lone], rule=RULE_ID) == [lone]
