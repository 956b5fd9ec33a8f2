"""Alert state per fingerprint (``Namespace.ALERTS``): findings become alerts.

A FIRING finding for an unknown (or resolved) fingerprint starts an alert with
``starts_at = observed_at``; while it keeps firing, ``starts_at`` is kept. A
RESOLVED finding sets ``ends_at``. A RESOLVED finding for an alert never seen is
ignored (there is nothing to resolve). Records are written only when something
changed, so replaying the same findings writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.model import Alert, Finding, Status
from core.state.base import Namespace, StateStore

__all__ = [
    "AlertRecord",
    "MergeStats",
    "label_fingerprint",
    "load_alerts",
    "merge_findings",
    "read_alert",
    "read_alerts",
]

_EVIDENCE_KEYS_MAX = 24
_EVIDENCE_VALUE_MAX = 500


@dataclass(slots=True)
class AlertRecord:
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    updated_at: str  # ISO 8601
    evidence: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None

    @property
    def firing(self) -> bool:
        return self.ends_at is None

    def alert(self) -> Alert:
        return Alert(self.labels, self.annotations, self.starts_at, self.ends_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "evidence": self.evidence,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, fp: str, d: Mapping[str, Any], etag: str | None = None) -> AlertRecord:
        # Hot path (every alert, every run): the stored dicts are used as they are, never mutated
        # in place (fields are reassigned), so no copies are made.
        ends = d.get("ends_at")
        starts = d["starts_at"]
        return cls(
            fingerprint=fp,
            labels=d["labels"],
            annotations=d.get("annotations") or {},
            starts_at=datetime.fromisoformat(starts),
            ends_at=datetime.fromisoformat(ends) if ends else None,
            updated_at=d.get("updated_at") or starts,
            evidence=d.get("evidence") or {},
            etag=etag,
        )


@dataclass(slots=True)
class MergeStats:
    new: int = 0
    updated: int = 0
    resolved: int = 0
    unchanged: int = 0
    ignored: int = 0
    expired: int = 0


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Same value as :func:`core.model.fingerprint`, computed with one hash update (hot path)."""
    parts: list[bytes] = []
    for name in sorted(labels):
        parts.append(name.encode("utf-8"))
        parts.append(str(labels[name]).encode("utf-8"))
    parts.append(b"")
    return hashlib.sha256(b"\xff".join(parts)).hexdigest()[:16]


def _scalar_evidence(ev: Mapping[str, Any]) -> dict[str, Any]:
    if not ev:
        return {}
    out: dict[str, Any] = {}
    for k, v in ev.items():
        if len(out) >= _EVIDENCE_KEYS_MAX:
            break
        if isinstance(v, bool | int | float) or v is None or (isinstance(v, str) and len(v) <= _EVIDENCE_VALUE_MAX):
            out[str(k)] = v
    return out


def read_alert(store: StateStore, fp: str) -> AlertRecord | None:
    rec = store.get(Namespace.ALERTS, fp)
    return AlertRecord.from_dict(fp, rec.value, rec.etag) if rec else None


def read_alerts(store: StateStore, fps: Iterable[str]) -> dict[str, AlertRecord]:
    """The stored alerts of those of ``fps`` that exist (what :func:`read_alert` gives for each)."""
    found = store.get_many(Namespace.ALERTS, fps)
    return {fp: AlertRecord.from_dict(fp, rec.value, rec.etag) for fp, rec in found.items()}


def load_alerts(store: StateStore, *, now: datetime, retention: timedelta) -> tuple[dict[str, AlertRecord], int]:
    """All alerts, dropping (and deleting) those resolved longer than ``retention`` ago."""
    out: dict[str, AlertRecord] = {}
    expired = 0
    cutoff = now - retention
    for rec in store.query(Namespace.ALERTS):
        a = AlertRecord.from_dict(rec.key, rec.value, rec.etag)
        if a.ends_at is not None and a.ends_at < cutoff:
            store.delete(Namespace.ALERTS, rec.key)
            expired += 1
            continue
        out[rec.key] = a
    return out, expired


def merge_findings(
    store: StateStore, alerts: dict[str, AlertRecord], findings: Iterable[Finding], *, now: datetime
) -> MergeStats:
    """Apply findings to ``alerts`` (in place) and persist what changed."""
    stats = MergeStats()
    now_s = now.isoformat()
    dirty: dict[str, AlertRecord] = {}
    for f in findings:
        labels = f.identity
        fp = label_fingerprint(labels)
        cur = alerts.get(fp)
        annotations = dict(f.annotations)
        evidence = _scalar_evidence(f.evidence)
        if f.status is Status.FIRING:
            if cur is None or cur.ends_at is not None:
                a = AlertRecord(fp, labels, annotations, f.observed_at, None, now_s, evidence)
                alerts[fp] = a
                dirty[fp] = a
                stats.new += 1
            elif cur.annotations != annotations or cur.evidence != evidence or cur.labels != labels:
                cur.annotations, cur.evidence, cur.labels, cur.updated_at = annotations, evidence, labels, now_s
                dirty[fp] = cur
                stats.updated += 1
            else:
                stats.unchanged += 1
        elif cur is None:
            stats.ignored += 1
        elif cur.ends_at is None:
            cur.ends_at = max(f.observed_at, cur.starts_at)
            cur.annotations, cur.updated_at = annotations or cur.annotations, now_s
            dirty[fp] = cur
            stats.resolved += 1
        else:
            stats.unchanged += 1
    # one batched write (entity-group transactions on Table Storage), not a round trip per alert
    if dirty:
        store.put_many(Namespace.ALERTS, {fp: a.to_dict() for fp, a in dirty.items()})
    return stats
