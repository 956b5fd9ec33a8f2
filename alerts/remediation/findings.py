"""Findings for remediation, from alert lines (alerts.jsonl) or finding lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from core.model import Finding, Status
from core.timeutil import parse_utc

__all__ = ["finding_from_json", "read_findings", "rule_actions_from_registry"]


def finding_from_json(d: Mapping[str, Any]) -> Finding:
    if "detector" in d and "resource" in d:
        return Finding.from_dict(d)
    labels = d["labels"]
    status = Status(str(d.get("status") or ("resolved" if d.get("endsAt") else "firing")))
    when = d.get("endsAt") if status is Status.RESOLVED else d.get("startsAt")
    return Finding.from_alert_labels(
        labels, observed_at=parse_utc(str(when)), status=status, annotations=d.get("annotations") or {}
    )


def read_findings(lines: Iterable[str], source: str) -> list[Finding]:
    out: list[Finding] = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(finding_from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}:{no}: not a finding or alert ({type(exc).__name__}: {exc})") from None
    return out


def rule_actions_from_registry() -> dict[str, str]:
    """Rule id -> action id, from each rule's metadata ``remediation_action``."""
    from detectors.registry import all_rules

    return {m.id: str(m.extra["remediation_action"]) for m in all_rules() if m.extra.get("remediation_action")}
