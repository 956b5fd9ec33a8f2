"""What the console pages show, read through the lower layers' own functions.

Alerts come from ``alerts.alertstate`` (``Namespace.ALERTS``), their status from
``alerts.silences`` and ``alerts.acks``, notifications from the notification log
(``alerts.nflog``'s namespace), remediation from ``alerts.remediation`` and drift from
the verdicts ``vigil.drift_path`` records. Nothing here writes.

The alert list is served from :class:`AlertIndex`: one slim row per alert, rebuilt from
the store when older than ``ttl`` seconds or after the console itself changed something,
so paging and filtering 50,000 alerts costs a scan of in-memory rows, not 50,000 JSON
reads per request (``bench/console`` measures both).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.acks import get_ack
from alerts.alertstate import AlertRecord, read_alert
from alerts.matchers import Matcher, matches_all, parse_matchers
from alerts.silences import Silence, active_silences, silenced_by
from core.state.base import Namespace, StateStore

__all__ = [
    "STATUSES",
    "AlertFilter",
    "AlertIndex",
    "AlertRow",
    "Page",
    "alert_notifications",
    "audit_entries",
    "drift_verdicts",
    "resource_events",
]

STATUSES = ("firing", "acknowledged", "silenced", "resolved")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass(slots=True)
class AlertRow:
    fingerprint: str
    labels: Mapping[str, str]
    summary: str
    starts_at: str
    ends_at: str | None
    receivers: frozenset[str] = frozenset()

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def detector(self) -> str:
        return self.labels.get("detector", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    @property
    def resource_id(self) -> str:
        return self.labels.get("resource_id", "")

    @property
    def scope(self) -> str:
        return self.labels.get("scope") or self.labels.get("subscription_id") or ""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    detector: str = ""
    severity: str = ""
    scope: str = ""  # case-insensitive substring of the resource id or the scope label
    status: str = ""
    receiver: str = ""
    matchers: str = ""  # Alertmanager syntax, e.g. {alertname=~"storage-.*", severity!="low"}

    def compiled(self) -> list[Matcher]:
        return parse_matchers(self.matchers) if self.matchers.strip() else []

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.as_dict().items() if v}

    def as_dict(self) -> dict[str, str]:
        return {
            "detector": self.detector,
            "severity": self.severity,
            "scope": self.scope,
            "status": self.status,
            "receiver": self.receiver,
            "matchers": self.matchers,
        }


@dataclass(slots=True)
class Page:
    rows: list[tuple[AlertRow, str]]  # (row, status)
    total: int  # matching the filter
    page: int
    pages: int
    per_page: int
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # facet -> value -> count (matching rows)
    receivers: list[str] = field(default_factory=list)


class AlertIndex:
    """Slim, in-memory rows of every alert, refreshed from the state store."""

    def __init__(self, store: StateStore, *, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._rows: list[AlertRow] = []
        self._built = -1e18
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._built = -1e18

    def rows(self) -> list[AlertRow]:
        if time.monotonic() - self._built > self.ttl:
            with self._lock:
                if time.monotonic() - self._built > self.ttl:
                    self._rows = self._load()
                    self._built = time.monotonic()
        return self._rows

    def _load(self) -> list[AlertRow]:
        receivers: dict[str, set[str]] = {}
        for rec in self.store.query(Namespace.NFLOG):
            receiver = rec.key.split("|", 1)[0]
            for fp in (*rec.value.get("firing", ()), *rec.value.get("resolved", ())):
                receivers.setdefault(str(fp), set()).add(receiver)
        rows: list[AlertRow] = []
        for rec in self.store.query(Namespace.ALERTS):
            v = rec.value
            labels = v.get("labels") or {}
            ann = v.get("annotations") or {}
            rows.append(
                AlertRow(
                    fingerprint=rec.key,
                    labels=labels,
                    summary=str(ann.get("summary") or ann.get("title") or labels.get("alertname", "")),
                    starts_at=str(v.get("starts_at", "")),
                    ends_at=v.get("ends_at"),
                    receivers=frozenset(receivers.get(rec.key, ())),
                )
            )
        # Firing first, then by severity, newest first.
        rows.sort(key=lambda r: r.starts_at, reverse=True)
        rows.sort(key=lambda r: (r.ends_at is not None, SEVERITY_ORDER.get(r.severity, 9)))
        return rows

    def page(self, flt: AlertFilter, *, now: datetime, page: int = 1, per_page: int = 50) -> Page:
        matchers = flt.compiled()
        silences = active_silences(self.store, now)
        acked = {r.key for r in self.store.query(Namespace.ACKS)}
        scope = flt.scope.strip().lower()
        counts: dict[str, Counter[str]] = {"status": Counter(), "severity": Counter(), "detector": Counter()}
        matched: list[tuple[AlertRow, str]] = []
        all_receivers: set[str] = set()
        for row in self.rows():
            all_receivers |= row.receivers
            if flt.detector and row.detector != flt.detector:
                continue
            if flt.severity and row.severity != flt.severity:
                continue
            if scope and scope not in row.resource_id.lower() and scope not in row.scope.lower():
                continue
            if flt.receiver and flt.receiver not in row.receivers:
                continue
            if matchers and not matches_all(matchers, row.labels):
                continue
            status = _status(row, silences, acked)
            if flt.status and status != flt.status:
                continue
            counts["status"][status] += 1
            counts["severity"][row.severity] += 1
            counts["detector"][row.detector] += 1
            matched.append((row, status))
        per_page = max(1, min(per_page, 500))
        pages = max(1, -(-len(matched) // per_page))
        page = max(1, min(page, pages))
        start = (page - 1) * per_page
        return Page(
            rows=matched[start : start + per_page],
            total=len(matched),
            page=page,
            pages=pages,
            per_page=per_page,
            counts=counts,
            receivers=sorted(all_receivers),
        )

    def matching(self, matchers: Sequence[Matcher], *, limit: int = 20) -> tuple[list[AlertRow], int]:
        """Firing alerts a silence with these matchers would mute (the silence editor's preview)."""
        hits: list[AlertRow] = []
        total = 0
        for row in self.rows():
            if row.ends_at is None and matches_all(matchers, row.labels):
                total += 1
                if len(hits) < limit:
                    hits.append(row)
        return hits, total

    def for_resource(self, resource_id: str) -> list[AlertRow]:
        rid = resource_id.lower()
        return [r for r in self.rows() if r.resource_id.lower() == rid]


def _status(row: AlertRow, silences: list[tuple[Silence, list[Matcher]]], acked: set[str]) -> str:
    if row.ends_at is not None:
        return "resolved"
    if silences and silenced_by(silences, row.labels):
        return "silenced"
    return "acknowledged" if row.fingerprint in acked else "firing"


def alert_status(store: StateStore, alert: AlertRecord, now: datetime) -> tuple[str, list[str], dict[str, Any] | None]:
    """(status, ids of the silences muting it, the acknowledgement) for one alert."""
    ack = get_ack(store, alert.fingerprint)
    if alert.ends_at is not None:
        return "resolved", [], ack
    muted = silenced_by(active_silences(store, now), alert.labels)
    if muted:
        return "silenced", muted, ack
    return ("acknowledged" if ack else "firing"), [], ack


def load_alert(store: StateStore, fingerprint: str) -> AlertRecord | None:
    return read_alert(store, fingerprint)


def alert_notifications(store: StateStore, fingerprint: str) -> list[dict[str, Any]]:
    """Notification-log entries that included this alert: receiver, integration, when, firing or resolved."""
    out: list[dict[str, Any]] = []
    for rec in store.query(Namespace.NFLOG):
        firing, resolved = rec.value.get("firing", ()), rec.value.get("resolved", ())
        if fingerprint not in firing and fingerprint not in resolved:
            continue
        receiver, _, rest = rec.key.partition("|")
        integration = rest.partition("|")[0]
        out.append(
            {
                "receiver": receiver,
                "integration": integration,
                "sent_at": str(rec.value.get("sent_at", "")),
                "as": "firing" if fingerprint in firing else "resolved",
                "group": str(rec.value.get("group_key", "")),
            }
        )
    return sorted(out, key=lambda e: e["sent_at"])


def audit_entries(store: StateStore, *, fingerprint: str | None = None) -> list[dict[str, Any]]:
    """The remediation audit ledger (approvals and executions), oldest first."""
    out = []
    for rec in store.ledger(Namespace.AUDIT):
        value = dict(rec.value)
        if fingerprint is None or value.get("fingerprint") == fingerprint:
            out.append(value)
    return out


def drift_verdicts(store: StateStore, resource_id: str) -> list[dict[str, Any]]:
    """The last verdict per rule for one resource (``Namespace.VERDICTS``)."""
    from vigil.drift_path import verdict_key

    return [dict(r.value) for r in store.query(Namespace.VERDICTS, prefix=verdict_key(resource_id, ""))]


@dataclass(slots=True)
class ResourceSummary:
    resource_id: str
    resource_type: str
    rules: int
    failing: int
    last_event: str


def drift_resources(store: StateStore) -> Iterator[ResourceSummary]:
    """One summary per resource with verdicts, in key order (the store returns them grouped)."""
    current: ResourceSummary | None = None
    for rec in store.query(Namespace.VERDICTS):
        rid = str(rec.value.get("resource_id") or rec.key.rsplit("|", 1)[0])
        if current is None or current.resource_id.lower() != rid.lower():
            if current is not None:
                yield current
            current = ResourceSummary(rid, str(rec.value.get("resource_type", "")), 0, 0, "")
        current.rules += 1
        if rec.value.get("compliant") is False and not rec.value.get("deleted"):
            current.failing += 1
        current.last_event = max(current.last_event, str(rec.value.get("event_time", "")))
    if current is not None:
        yield current


def resource_events(store: StateStore, resource_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Processed Event Grid events for this resource (``Namespace.EVENTS``), newest first.

    The namespace is keyed by event id, so this scans it; the drift path prunes it to the
    redelivery window, which bounds the scan."""
    rid = resource_id.lower()
    out = [
        {"id": r.key, **dict(r.value)}
        for r in store.query(Namespace.EVENTS)
        if str(r.value.get("resource_id", "")).lower() == rid
    ]
    out.sort(key=lambda e: str(e.get("event_time", "")), reverse=True)
    return out[:limit]


def timeline(
    alerts: Iterable[AlertRecord], verdicts: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """One resource's history, newest first: events received, alerts fired and resolved, current verdicts."""
    items: list[dict[str, str]] = []
    for e in events:
        items.append(
            {"at": str(e.get("event_time", "")), "kind": "event", "what": str(e.get("type", "")), "who": "", "rule": ""}
        )
    for a in alerts:
        ann = a.annotations
        who = ann.get("changed_by", "")
        rule = a.labels.get("alertname", "")
        what = ann.get("violation") or ann.get("reason") or ann.get("summary", "")
        items.append({"at": a.starts_at.isoformat(), "kind": "fired", "what": what, "who": who, "rule": rule})
        if a.ends_at is not None:
            items.append({"at": a.ends_at.isoformat(), "kind": "resolved", "what": "", "who": "", "rule": rule})
    for v in verdicts:
        compliant = v.get("compliant")
        state = "compliant" if compliant is True else "non-compliant" if compliant is False else "unknown"
        if v.get("deleted"):
            state = "deleted"
        items.append(
            {
                "at": str(v.get("event_time", "")),
                "kind": "verdict",
                "what": state,
                "who": "",
                "rule": str(v.get("rule", "")),
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items
