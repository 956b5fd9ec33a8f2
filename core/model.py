"""Core domain model: findings, alerts and their identity.

Kept dependency-free (stdlib only) so that detectors, the drift event path and the
alert pipeline can import it without pulling in pandas or any Azure SDK.

Identity follows Prometheus Alertmanager: an alert is identified by its *labels*
only. Annotations (human text, cost figures, evidence) never enter the
fingerprint, so a changing cost figure never creates a "new" alert.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "IDENTITY_LABELS",
    "Alert",
    "Finding",
    "ResourceRef",
    "Severity",
    "Status",
    "fingerprint",
    "frozen_map",
    "resource_type",
]


class Status(enum.StrEnum):
    """Lifecycle of a finding: a detector reports both sides so alerts can resolve."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 0,
    Severity.HIGH: 1,
    Severity.MEDIUM: 2,
    Severity.LOW: 3,
    Severity.INFO: 4,
}

# Labels that must never carry a figure: checked when a Finding is built.
# The labels Finding.identity derives from the finding's own fields (rule, detector, severity,
# resource); every other label of an alert is one of the finding's own ``labels``.
IDENTITY_LABELS = frozenset(
    {"alertname", "detector", "severity", "resource_id", "subscription_id", "resource_group", "resource_type"}
)
# The severity of an alert line that carries no severity label (hand-written alert lines;
# every alert Vigil writes has one).
DEFAULT_SEVERITY = "medium"

_FORBIDDEN_LABEL_HINTS = ("cost", "amount", "waste", "spend", "value")


def frozen_map(data: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only, key-sorted copy of a str->str mapping."""
    items = sorted((str(k), str(v)) for k, v in (data or {}).items())
    return MappingProxyType(dict(items))


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable identity of a label set: SHA-256 over the sorted label pairs.

    The encoding separates names and values with bytes that cannot occur in
    label names (0xff) so that ``{"a": "bc"}`` and ``{"ab": "c"}`` differ.
    Returns 16 hex characters, as Alertmanager's 64-bit fingerprints do.
    """
    h = hashlib.sha256()
    for name in sorted(labels):
        h.update(name.encode("utf-8"))
        h.update(b"\xff")
        h.update(str(labels[name]).encode("utf-8"))
        h.update(b"\xff")
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """An Azure resource, by its ARM id (kept in canonical lower case)."""

    id: str
    type: str = ""
    name: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    location: str = ""

    @classmethod
    def from_id(cls, resource_id: str, *, type: str = "", location: str = "") -> ResourceRef:
        rid = resource_id.strip().lower().rstrip("/")
        parts = [p for p in rid.split("/") if p]
        sub = rg = ""
        for i, p in enumerate(parts[:-1]):
            if p == "subscriptions" and not sub:
                sub = parts[i + 1]
            elif p == "resourcegroups" and not rg:
                rg = parts[i + 1]
        rtype = type.lower() if type else _type_from_id(parts)
        name = parts[-1] if parts else ""
        return cls(id=rid, type=rtype, name=name, subscription_id=sub, resource_group=rg, location=location)

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "location": self.location,
        }


def resource_type(resource_id: str) -> str:
    """A resource id's type: ``.../providers/Microsoft.X/a/n1/b/n2`` -> ``microsoft.x/a/b`` (lower case)."""
    return _type_from_id([p for p in resource_id.strip().lower().split("/") if p])


def _type_from_id(parts: list[str]) -> str:
    """The type from the lower-case segments of a resource id (see :func:`resource_type`)."""
    if "providers" not in parts:
        if parts and parts[0] == "subscriptions":
            return "microsoft.resources/subscriptions" + ("/resourcegroups" if "resourcegroups" in parts else "")
        return ""
    idx = len(parts) - 1 - parts[::-1].index("providers")
    tail = parts[idx + 1 :]
    if not tail:
        return ""
    namespace, rest = tail[0], tail[1:]
    return "/".join([namespace, *rest[0::2]])


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector reports about one resource (or scope) and one rule.

    ``labels`` identify the finding (and so the alert); ``annotations`` carry the
    human text and the figures. A detector reports RESOLVED as well as FIRING.
    """

    detector: str
    rule: str
    status: Status
    severity: Severity
    resource: ResourceRef
    observed_at: datetime
    labels: Mapping[str, str] = field(default_factory=frozen_map)
    annotations: Mapping[str, str] = field(default_factory=frozen_map)
    evidence: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            raise ValueError("Finding.observed_at must be timezone-aware")
        object.__setattr__(self, "labels", frozen_map(self.labels))
        object.__setattr__(self, "annotations", frozen_map(self.annotations))
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))
        for name, value in self.labels.items():
            if any(h in name.lower() for h in _FORBIDDEN_LABEL_HINTS) and _looks_numeric(value):
                raise ValueError(f"label {name!r}={value!r} looks like a figure; put figures in annotations")

    @property
    def identity(self) -> dict[str, str]:
        """The full label set of the alert this finding becomes."""
        base = {
            "alertname": self.rule,
            "detector": self.detector,
            "severity": self.severity.value,
            "resource_id": self.resource.id,
        }
        if self.resource.subscription_id:
            base["subscription_id"] = self.resource.subscription_id
        if self.resource.resource_group:
            base["resource_group"] = self.resource.resource_group
        if self.resource.type:
            base["resource_type"] = self.resource.type
        base.update(self.labels)
        return base

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.identity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "rule": self.rule,
            "status": self.status.value,
            "severity": self.severity.value,
            "resource": self.resource.to_dict(),
            "observed_at": self.observed_at.isoformat(),
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "evidence": dict(self.evidence),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_alert_labels(
        cls,
        labels: Mapping[str, str],
        *,
        observed_at: datetime,
        status: Status = Status.FIRING,
        annotations: Mapping[str, str] | None = None,
    ) -> Finding:
        """The finding an alert was made from (the inverse of :attr:`identity`).

        ``alertname``, ``detector`` and ``resource_id`` are required (:class:`KeyError`);
        the labels beyond :data:`IDENTITY_LABELS` become the finding's labels, so the
        finding's fingerprint equals the alert's whenever the alert came from a finding.
        """
        return cls(
            detector=str(labels["detector"]),
            rule=str(labels["alertname"]),
            status=status,
            severity=Severity(str(labels.get("severity", DEFAULT_SEVERITY))),
            resource=ResourceRef.from_id(str(labels["resource_id"]), type=str(labels.get("resource_type", ""))),
            observed_at=observed_at,
            labels={k: v for k, v in labels.items() if k not in IDENTITY_LABELS},
            annotations=annotations or {},
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        res = d["resource"]
        return cls(
            detector=d["detector"],
            rule=d["rule"],
            status=Status(d["status"]),
            severity=Severity(d["severity"]),
            resource=ResourceRef(**res),
            observed_at=datetime.fromisoformat(d["observed_at"]),
            labels=d.get("labels", {}),
            annotations=d.get("annotations", {}),
            evidence=d.get("evidence", {}),
        )


def _looks_numeric(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as Alertmanager sees it: labels, annotations and an active window.

    ``ends_at`` is None while firing; set when the alert resolves.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozen_map(self.labels))
        object.__setattr__(self, "annotations", frozen_map(self.annotations))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def status(self) -> Status:
        return Status.RESOLVED if self.ends_at is not None else Status.FIRING

    @classmethod
    def from_finding(cls, finding: Finding, *, starts_at: datetime | None = None) -> Alert:
        start = starts_at or finding.observed_at
        ends = finding.observed_at if finding.status is Status.RESOLVED else None
        return cls(labels=finding.identity, annotations=finding.annotations, starts_at=start, ends_at=ends)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        ends = d.get("endsAt")
        return cls(
            labels=d["labels"],
            annotations=d.get("annotations", {}),
            starts_at=datetime.fromisoformat(d["startsAt"]),
            ends_at=datetime.fromisoformat(ends) if ends else None,
        )
