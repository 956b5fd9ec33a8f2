"""What every detector and rule shares: its metadata, loaded from the JSON file
that sits in the rule's own folder (``<folder>/<id>.metadata.json``).

Detectors are pure: a function of their inputs, config and ``now``. They hold no
SDK clients, read no environment or clock, and keep no module singletons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.model import Severity

__all__ = ["Family", "MetadataError", "RuleMeta", "load_meta"]

Family = Literal["overspend", "idle", "drift", "activity"]

_REQUIRED = ("id", "title", "severity", "risk", "remediation")


class MetadataError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RuleMeta:
    id: str
    family: Family
    title: str
    severity: Severity
    risk: str
    remediation: str
    folder: Path
    extra: dict[str, object]

    @property
    def runbook_url(self) -> str | None:
        url = self.extra.get("runbook_url")
        return str(url) if url else None


def load_meta(folder: Path, family: Family) -> RuleMeta:
    """Load and check ``<folder>/<folder.name>.metadata.json``.

    The id must equal the folder name, as in Prowler, so a rule cannot be
    registered under a name that disagrees with where it lives.
    """
    path = folder / f"{folder.name}.metadata.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{path}: cannot read rule metadata: {exc}") from None
    if not isinstance(data, dict):
        raise MetadataError(f"{path}: expected a JSON object")
    missing = [k for k in _REQUIRED if not data.get(k)]
    if missing:
        raise MetadataError(f"{path}: missing {', '.join(missing)}")
    if data["id"] != folder.name:
        raise MetadataError(f"{path}: id {data['id']!r} does not match folder {folder.name!r}")
    try:
        severity = Severity(data["severity"])
    except ValueError:
        raise MetadataError(
            f"{path}: severity {data['severity']!r} is not one of {[s.value for s in Severity]}"
        ) from None
    remediation = data["remediation"]
    if isinstance(remediation, dict):
        remediation = "\n".join(f"{k}: {v}" for k, v in remediation.items())
    extra = {k: v for k, v in data.items() if k not in _REQUIRED}
    return RuleMeta(
        id=data["id"],
        family=family,
        title=data["title"],
        severity=severity,
        risk=data["risk"],
        remediation=str(remediation),
        folder=folder,
        extra=extra,
    )
