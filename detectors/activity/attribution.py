"""Attribution: who changed a resource and when, from activity-log records.

``attribute(records, resource_id, at=...)`` gives the latest successful write, delete or action on the
resource (or on one of its child or extension resources, such as a diagnostic setting) at or before
``at``: caller, IP address, correlation id and time. ``with_attribution(findings, records)`` fills
``changed_by``/``changed_at``/``caller_ip``/``correlation_id`` into drift and idle findings whose event
had no claims (``changed_by`` missing, ``unknown``, or only the RBAC evidence's ``principal:<object id>``,
which is kept as ``event_principal``); findings that already name a caller keep it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.model import Finding
from detectors.activity.record import Operation, operations

__all__ = ["Attribution", "Attributor", "attribute", "changes", "with_attribution"]

_CHANGES = ("write", "delete", "action")
_DETECTORS = ("drift", "idle")


@dataclass(frozen=True, slots=True)
class Attribution:
    changed_by: str
    changed_at: datetime
    caller_ip: str
    correlation_id: str
    operation: str

    def annotations(self) -> dict[str, str]:
        out = {
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat().replace("+00:00", "Z"),
            "correlation_id": self.correlation_id,
            "changed_by_source": "activity log",
        }
        if self.caller_ip:
            out["caller_ip"] = self.caller_ip
        if self.operation:
            out.setdefault("operation", self.operation)
        return out


def changes(records: Iterable[Mapping[str, Any]]) -> list[Operation]:
    """The operations attribution can name: successful writes, deletes and actions with a caller (not reads
    or key listings), oldest first."""
    out = []
    for op in operations(records):
        if op.status != "Succeeded" or op.verb not in _CHANGES or not op.caller:
            continue
        if op.operation.endswith("/read") or "/list" in op.operation:
            continue
        out.append(op)
    return out


class Attributor:
    """Changes indexed by resource id (lower case), built once for many look-ups."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._by_id: dict[str, list[Operation]] = {}
        for op in changes(records):
            self._by_id.setdefault(op.resource_id.lower().rstrip("/"), []).append(op)

    def attribute(self, resource_id: str, *, at: datetime | None = None) -> Attribution | None:
        rid = resource_id.lower().rstrip("/")
        best: Operation | None = None
        for key, ops in self._by_id.items():
            if key != rid and not key.startswith(rid + "/"):
                continue
            for op in ops:
                if at is not None and op.time > at:
                    continue
                if best is None or op.time > best.time:
                    best = op
        if best is None:
            return None
        name = best.records[0].get("operationName")
        return Attribution(
            changed_by=best.caller,
            changed_at=best.time,
            caller_ip=best.caller_ip,
            correlation_id=best.correlation_id,
            operation=str(name.get("value")) if isinstance(name, Mapping) else best.operation,
        )


def attribute(
    records: Iterable[Mapping[str, Any]], resource_id: str, *, at: datetime | None = None
) -> Attribution | None:
    return Attributor(records).attribute(resource_id, at=at)


def _unnamed(changed_by: str) -> bool:
    return changed_by in ("", "unknown") or changed_by.startswith("principal:")


def with_attribution(findings: Sequence[Finding], records: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Drift and idle findings without a known caller get one from the activity log (others unchanged)."""
    todo = [f for f in findings if f.detector in _DETECTORS and _unnamed(f.annotations.get("changed_by", ""))]
    if not todo:
        return list(findings)
    index = Attributor(records)
    wanted = {id(f) for f in todo}
    out = []
    for f in findings:
        a = index.attribute(f.resource.id, at=f.observed_at) if id(f) in wanted else None
        if a is None:
            out.append(f)
            continue
        extra = a.annotations()
        before = f.annotations.get("changed_by", "")
        if before.startswith("principal:"):
            extra["event_principal"] = before.removeprefix("principal:")
        out.append(replace(f, annotations={**f.annotations, **extra}))
    return out
