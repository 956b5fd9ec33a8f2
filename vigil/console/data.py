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

import itertools
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.acks import get_ack
from alerts.alertstate import AlertRecord, read_alert
from alerts.matchers import Matcher, parse_matchers
from alerts.routing import Route
from alerts.silences import Silence, active_silences, silenced_by
from core.state.base import Namespace, StateStore

__all__ = [
    "STATUSES",
    "AlertFilter",
    "AlertIndex",
    "AlertRow",
    "Page",
    "attribute",
    "audit_entries",
    "drift_resources",
    "drift_verdicts",
    "timeline",
    "verdict_history",
]

log = logging.getLogger(__name__)
STATUSES = ("firing", "acknowledged", "silenced", "resolved")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass(slots=True)
class AlertRow:
    """One alert as the list shows it; the fields filters compare are precomputed."""

    fingerprint: str
    labels: Mapping[str, str]
    summary: str
    starts_at: str
    ends_at: str | None
    receivers: frozenset[str] = frozenset()
    alertname: str = ""
    detector: str = ""
    severity: str = ""
    resource_id: str = ""
    scope: str = ""
    rid_lower: str = ""
    scope_lower: str = ""

    @classmethod
    def build(cls, fp: str, v: Mapping[str, Any], receivers: frozenset[str]) -> AlertRow:
        labels = v.get("labels") or {}
        ann = v.get("annotations") or {}
        rid = str(labels.get("resource_id", ""))
        scope = str(labels.get("scope") or labels.get("subscription_id") or "")
        return cls(
            fingerprint=fp,
            labels=labels,
            summary=str(ann.get("summary") or ann.get("title") or labels.get("alertname", "")),
            starts_at=str(v.get("starts_at", "")),
            ends_at=v.get("ends_at"),
            receivers=receivers,
            alertname=str(labels.get("alertname", "")),
            detector=str(labels.get("detector", "")),
            severity=str(labels.get("severity", "")),
            resource_id=rid,
            scope=scope,
            rid_lower=rid.lower(),
            scope_lower=scope.lower(),
        )


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


@dataclass(slots=True)
class _Snapshot:
    rows: list[AlertRow]
    acked: frozenset[str]
    notifications: dict[str, list[dict[str, Any]]]
    receivers: list[str]
    built: float
    statuses: list[str] | None = None
    status_key: tuple[Any, ...] | None = None
    status_masks: dict[str, int] = field(default_factory=dict)
    # (route, per-row group ids, per-group (receiver, key, matchers), per-row codes, the statuses they are for)
    route_multi: int = 0  # rows in more than one group (routes with continue: true)
    route_groups: (
        tuple[Route, list[tuple[int, ...]], list[tuple[str, str, str]], list[int] | None, list[str] | None] | None
    ) = None
    label_masks: dict[str, dict[str, int]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] | None = None
    resources: list[ResourceSummary] | None = None


class AlertIndex:
    """In-memory snapshot of the alerts (and what the list needs beside them).

    The first request builds it; after ``ttl`` seconds the next request starts a rebuild in
    a background thread and is served from the current snapshot meanwhile, so only the
    first request pays for reading every alert (``ttl <= 0``: rebuilt on every request, for
    tests). The console's own acknowledgements are applied to the snapshot at once; silence
    changes need nothing, as the active silences are read on every request (a handful of
    records) and statuses are recomputed when that set changes. Drift events and resource
    summaries are loaded into the snapshot on first use."""

    def __init__(self, store: StateStore, *, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()
        self._refreshing = False

    def invalidate(self) -> None:
        self._snap = None

    def note_ack(self, fingerprint: str) -> None:
        snap = self._snap
        if snap is not None:
            snap.acked = snap.acked | {fingerprint}
            snap.statuses = None

    def snapshot(self) -> _Snapshot:
        snap = self._snap
        if snap is None or self.ttl <= 0:
            with self._lock:
                snap = self._snap
                if snap is None or self.ttl <= 0:
                    snap = self._load()
                    self._snap = snap
            return snap
        if time.monotonic() - snap.built > self.ttl and not self._refreshing:
            with self._lock:
                if not self._refreshing:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, name="console-index", daemon=True).start()
        return snap

    def _refresh(self) -> None:
        try:
            self._snap = self._load()
        except Exception:
            log.exception("console: refreshing the alert index failed; serving the previous one")
        finally:
            self._refreshing = False

    def rows(self) -> list[AlertRow]:
        return self.snapshot().rows

    def _load(self) -> _Snapshot:
        notes: dict[str, list[dict[str, Any]]] = {}
        for rec in self.store.query(Namespace.NFLOG):
            receiver, _, rest = rec.key.partition("|")
            v = rec.value
            base = {
                "receiver": receiver,
                "integration": rest.partition("|")[0],
                "sent_at": str(v.get("sent_at", "")),
                "group": str(v.get("group_key", "")),
            }
            for fp in v.get("firing", ()):
                notes.setdefault(str(fp), []).append({**base, "as": "firing"})
            for fp in v.get("resolved", ()):
                notes.setdefault(str(fp), []).append({**base, "as": "resolved"})
        receivers_of = {fp: frozenset(n["receiver"] for n in ns) for fp, ns in notes.items()}
        empty: frozenset[str] = frozenset()
        rows = [
            AlertRow.build(r.key, r.value, receivers_of.get(r.key, empty)) for r in self.store.query(Namespace.ALERTS)
        ]
        # Firing first, then by severity, newest first.
        rows.sort(key=lambda r: r.starts_at, reverse=True)
        rows.sort(key=lambda r: (r.ends_at is not None, SEVERITY_ORDER.get(r.severity, 9)))
        acked = frozenset(r.key for r in self.store.query(Namespace.ACKS))
        all_receivers = sorted({n["receiver"] for ns in notes.values() for n in ns})
        return _Snapshot(rows, acked, notes, all_receivers, time.monotonic())

    def _statuses(self, snap: _Snapshot, now: datetime) -> list[str]:
        silences = active_silences(self.store, now)
        key = tuple((s.id, s.ends_at) for s, _ in silences)
        if snap.statuses is None or snap.status_key != key:
            statuses = [_status(r, silences, snap.acked) for r in snap.rows]
            snap.status_masks = _group_masks(statuses)
            snap.statuses, snap.status_key = statuses, key
        return snap.statuses

    def _label_masks(self, snap: _Snapshot, name: str) -> dict[str, int]:
        """Label value -> bit mask of the rows carrying it ("" for rows without the label)."""
        masks = snap.label_masks.get(name)
        if masks is None:
            masks = _group_masks([r.labels.get(name, "") for r in snap.rows])
            snap.label_masks[name] = masks
        return masks

    def _matcher_mask(self, snap: _Snapshot, matcher: Matcher) -> int:
        """Rows a matcher selects: the matcher runs once per distinct value of its label."""
        out = 0
        for value, mask in self._label_masks(snap, matcher.name).items():
            if matcher.matches({matcher.name: value}):
                out |= mask
        return out

    def select(self, flt: AlertFilter, *, now: datetime) -> tuple[_Snapshot, int]:
        """The snapshot and the bit mask (bit i: row i) of the rows the filter keeps."""
        matchers = flt.compiled()
        snap = self.snapshot()
        self._statuses(snap, now)
        n = len(snap.rows)
        mask = (1 << n) - 1
        if flt.detector:
            mask &= self._label_masks(snap, "detector").get(flt.detector, 0)
        if flt.severity:
            mask &= self._label_masks(snap, "severity").get(flt.severity, 0)
        if flt.status:
            mask &= snap.status_masks.get(flt.status, 0)
        if flt.receiver:
            mask &= _mask_of(i for i, r in enumerate(snap.rows) if flt.receiver in r.receivers)
        scope = flt.scope.strip().lower()
        if scope and mask:
            mask &= _mask_of(i for i, r in enumerate(snap.rows) if scope in r.rid_lower or scope in r.scope_lower)
        for m in matchers:
            if not mask:
                break
            mask &= self._matcher_mask(snap, m)
        return snap, mask

    def page(self, flt: AlertFilter, *, now: datetime, page: int = 1, per_page: int = 50) -> Page:
        snap, mask = self.select(flt, now=now)
        assert snap.statuses is not None
        total = mask.bit_count()
        per_page = max(1, min(per_page, 500))
        pages = max(1, -(-total // per_page))
        page = max(1, min(page, pages))
        counts: dict[str, Counter[str]] = {
            "status": _facet(snap.status_masks, mask),
            "severity": _facet(self._label_masks(snap, "severity"), mask),
            "detector": _facet(self._label_masks(snap, "detector"), mask),
        }
        shown = set_bits(mask, skip=(page - 1) * per_page, limit=per_page)
        return Page(
            rows=[(snap.rows[i], snap.statuses[i]) for i in shown],
            total=total,
            page=page,
            pages=pages,
            per_page=per_page,
            counts=counts,
            receivers=snap.receivers,
        )

    def matching(self, matchers: Sequence[Matcher], *, now: datetime, limit: int = 20) -> tuple[list[AlertRow], int]:
        """Firing alerts a silence with these matchers would mute (the silence editor's preview);
        alerts already silenced or acknowledged count, as the new silence would mute them too."""
        snap, mask = self.select(AlertFilter(), now=now)
        mask &= ~snap.status_masks.get("resolved", 0)
        for m in matchers:
            mask &= self._matcher_mask(snap, m)
        return [snap.rows[i] for i in set_bits(mask, limit=limit)], mask.bit_count()

    def groups(
        self, flt: AlertFilter, route: Route, *, now: datetime, page: int = 1, per_page: int = 50
    ) -> tuple[list[Group], int, int]:
        """The filtered alerts grouped as the route tree groups them for notification:
        (receiver, group key) with counts per status, largest first; (groups, total, pages).

        Each row's groups are found once per snapshot (the route tree's own caches make that
        one decision per distinct label projection); a request then counts (group, status)
        codes of the selected rows with C-level loops."""
        snap, mask = self.select(flt, now=now)
        statuses = snap.statuses
        assert statuses is not None
        if snap.route_groups is None or snap.route_groups[0] is not route:
            ids: dict[tuple[str, str], int] = {}
            info: list[tuple[str, str, str]] = []
            per_row: list[tuple[int, ...]] = []
            for row in snap.rows:
                gids = []
                for r in route.match(row.labels):
                    pair = (r.opts.receiver, r.group_key(row.labels))
                    gid = ids.get(pair)
                    if gid is None:
                        gid = ids[pair] = len(info)
                        info.append((pair[0], pair[1], _matcher_text(r.group_labels(row.labels))))
                    gids.append(gid)
                per_row.append(tuple(gids))
            snap.route_groups = (route, per_row, info, None, None)
            snap.route_multi = _mask_of(i for i, g in enumerate(per_row) if len(g) > 1)
        _, per_row, info, codes, codes_for = snap.route_groups
        width = len(STATUSES)
        if codes is None or codes_for is not statuses:
            # (group id x number of statuses + status index) per row, for its first group; rows a
            # `continue: true` route sends to several groups add their other groups below.
            scode = {st: n for n, st in enumerate(STATUSES)}
            codes = [g[0] * width + scode[st] if g else -1 for g, st in zip(per_row, statuses, strict=True)]
            snap.route_groups = (route, per_row, info, codes, statuses)
        tally = Counter(map(codes.__getitem__, all_bits(mask)))
        for i in all_bits(mask & snap.route_multi):
            for gid in per_row[i][1:]:
                tally[gid * width + STATUSES.index(statuses[i])] += 1
        totals: Counter[int] = Counter()
        firing: Counter[int] = Counter()
        for code, n in tally.items():
            if code >= 0:
                totals[code // width] += n
                if code % width == 0:  # STATUSES[0] is "firing"
                    firing[code // width] += n
        order = sorted(totals, key=lambda gid: (-firing[gid], -totals[gid], info[gid][0], info[gid][1]))
        pages = max(1, -(-len(order) // per_page))
        page = max(1, min(page, pages))
        shown: list[Group] = []
        for gid in order[(page - 1) * per_page : page * per_page]:
            g = Group(*info[gid], total=totals[gid])
            for n, st in enumerate(STATUSES):
                if tally.get(gid * width + n):
                    g.counts[st] = tally[gid * width + n]
            shown.append(g)
        return shown, len(order), pages

    def for_resource(self, resource_id: str) -> list[AlertRow]:
        rid = resource_id.lower()
        return [r for r in self.rows() if r.rid_lower == rid]

    def notifications(self, fingerprint: str) -> list[dict[str, Any]]:
        """Notification-log entries that included this alert: receiver, integration, when, firing or resolved."""
        return sorted(self.snapshot().notifications.get(fingerprint, []), key=lambda e: str(e["sent_at"]))

    def events(self, resource_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Processed Event Grid events for this resource (``Namespace.EVENTS``, keyed by event id,
        so grouped by resource once per snapshot), newest first."""
        snap = self.snapshot()
        if snap.events is None:
            by_rid: dict[str, list[dict[str, Any]]] = {}
            for r in self.store.query(Namespace.EVENTS):
                by_rid.setdefault(str(r.value.get("resource_id", "")).lower(), []).append(
                    {"id": r.key, **dict(r.value)}
                )
            snap.events = by_rid
        out = sorted(snap.events.get(resource_id.lower(), []), key=lambda e: str(e.get("event_time", "")), reverse=True)
        return out[:limit]

    def resources(self) -> list[ResourceSummary]:
        snap = self.snapshot()
        if snap.resources is None:
            snap.resources = list(drift_resources(self.store))
        return snap.resources


@dataclass(slots=True)
class Group:
    receiver: str
    key: str
    matchers: str  # the group's labels as matchers: the list filtered to this group
    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def _matcher_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in labels.values())
    return "{" + ", ".join(f'{k}="{v}"' for k, v in zip(labels, quoted, strict=True)) + "}"


_POPCOUNT = bytes(bin(b).count("1") for b in range(256))


def _mask_of(indices: Iterable[int]) -> int:
    """A bit mask with the given bits set (built in a bytearray: linear, not quadratic)."""
    buf = bytearray()
    for i in indices:
        byte = i >> 3
        if byte >= len(buf):
            buf.extend(bytes(byte + 1 - len(buf)))
        buf[byte] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def _group_masks(values: Sequence[str]) -> dict[str, int]:
    groups: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        groups.setdefault(v, []).append(i)
    return {v: _mask_of(ix) for v, ix in groups.items()}


def _facet(masks: Mapping[str, int], mask: int) -> Counter[str]:
    out: Counter[str] = Counter()
    for value, m in masks.items():
        count = (m & mask).bit_count()
        if count:
            out[value] = count
    return out


_ZERO_ONE = bytes.maketrans(b"01", b"\x00\x01")


def all_bits(mask: int) -> list[int]:
    """Positions of every set bit of ``mask``, in increasing order (C-level loops only)."""
    if not mask:
        return []
    flags = bin(mask)[:1:-1].encode("ascii").translate(_ZERO_ONE)  # bit i is flags[i]
    return list(itertools.compress(range(len(flags)), flags))


def set_bits(mask: int, *, skip: int = 0, limit: int | None = None) -> list[int]:
    """Positions of the set bits of ``mask`` in increasing order, after the first ``skip``;
    whole bytes are skipped by their population count."""
    out: list[int] = []
    if limit is not None and limit <= 0:
        return out
    data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    for at, byte in enumerate(data):
        if not byte:
            continue
        count = _POPCOUNT[byte]
        if skip >= count:
            skip -= count
            continue
        for bit in range(8):
            if byte >> bit & 1:
                if skip:
                    skip -= 1
                    continue
                out.append(at * 8 + bit)
                if limit is not None and len(out) >= limit:
                    return out
    return out


def _status(row: AlertRow, silences: list[tuple[Silence, list[Matcher]]], acked: frozenset[str]) -> str:
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


def audit_entries(store: StateStore, *, fingerprint: str | None = None) -> list[dict[str, Any]]:
    """The remediation audit ledger (approvals and executions), oldest first."""
    out = []
    for rec in store.ledger(Namespace.AUDIT):
        value = dict(rec.value)
        if fingerprint is None or value.get("fingerprint") == fingerprint:
            out.append(value)
    return out


def verdict_history(store: StateStore, resource_id: str) -> dict[str, list[dict[str, Any]]]:
    """Rule -> every verdict change recorded for one resource, oldest first (``vigil.drift_history``)."""
    from vigil.drift_history import history
    from vigil.drift_path import verdict_key

    return history(store, verdict_key(resource_id, ""))


def _when(value: Any) -> datetime | None:
    """A history entry's ``event_time`` (``datetime.isoformat`` of an aware time)."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def attribute(
    history: Mapping[str, list[dict[str, Any]]], activity: Iterable[Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The history with a ``who`` for the entries their source did not name (a sweep): the caller of
    the newest Activity Log change to the resource after the rule's previous entry and at or
    before this one (``who_from``: "activity log")."""
    from ingest.activity.reader import event_time

    changes = sorted(
        ((t, e) for e in activity if (t := event_time(e)) is not None and _is_change(e)), key=lambda p: p[0]
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for rule, entries in history.items():
        done: list[dict[str, Any]] = []
        prev: datetime | None = None
        for entry in entries:
            e = dict(entry)
            at = _when(e.get("event_time"))
            if not e.get("who") and at is not None and changes:
                hits = [c for t, c in changes if t <= at and (prev is None or t > prev)]
                if hits:
                    e["who"] = str(hits[-1].get("caller") or "")
                    e["who_from"] = "activity log"
                    e.setdefault("operation", _operation(hits[-1]))
            prev = at if at is not None else prev
            done.append(e)
        out[rule] = done
    return out


def _operation(entry: Mapping[str, Any]) -> str:
    op = entry.get("operationName")
    return str(op.get("value", "") if isinstance(op, Mapping) else op or "")


def _is_change(entry: Mapping[str, Any]) -> bool:
    """A successful write, delete or action in the Activity Log (not its Started twin, not a read)."""
    status = entry.get("status")
    value = str(status.get("value", "") if isinstance(status, Mapping) else status or "")
    op = _operation(entry).lower()
    return value.lower() in ("succeeded", "success") and op.endswith(("/write", "/delete", "/action"))


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


def timeline(
    alerts: Iterable[AlertRecord],
    verdicts: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    activity: Iterable[Mapping[str, Any]] = (),
    history: Mapping[str, list[dict[str, Any]]] | None = None,
) -> list[dict[str, str]]:
    """One resource's history, newest first: Activity Log changes (who did what), events
    received, alerts fired and resolved, and every verdict change per rule (``history``; the
    current verdict for a rule without recorded history)."""
    items: list[dict[str, str]] = []
    for entry in activity:
        op = entry.get("operationName")
        status = entry.get("status")
        what = str(op.get("value", "") if isinstance(op, Mapping) else op or "")
        if isinstance(status, Mapping) and status.get("value"):
            what += f" ({status['value']})"
        items.append(
            {
                "at": str(entry.get("eventTimestamp", "")),
                "kind": "change",
                "what": what,
                "who": str(entry.get("caller", "")),
                "rule": "",
            }
        )
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
    from vigil.drift_history import state_of

    history = history or {}
    for v in verdicts:
        if history.get(str(v.get("rule", ""))):
            continue
        items.append(
            {
                "at": str(v.get("event_time", "")),
                "kind": "verdict",
                "what": state_of(v),
                "who": "",
                "rule": str(v.get("rule", "")),
            }
        )
    for rule, entries in history.items():
        for h in entries:
            source = str(h.get("source", ""))
            what = state_of(h) + (f" ({source})" if source else "")
            items.append(
                {
                    "at": str(h.get("event_time", "")),
                    "kind": "verdict",
                    "what": what,
                    "who": str(h.get("who", "")),
                    "rule": rule,
                }
            )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items


_FIELD = re.compile(r"field '([^']+)'")


def arm_lines(resource: Mapping[str, Any], failing: Iterable[AlertRecord]) -> list[tuple[str, bool]]:
    """The resource's ARM JSON, pretty-printed, one (line, highlighted) pair per line: a line is
    highlighted when its key is the last segment of a policy field a firing drift alert names
    (``field 'Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly' equals …``)."""
    keys: set[str] = set()
    for alert in failing:
        text = " ".join(alert.annotations.get(k, "") for k in ("violation", "expected", "reason"))
        for alias in _FIELD.findall(text):
            leaf = re.split(r"[/.]", alias.replace("[*]", ""))[-1]
            if leaf:
                keys.add(leaf.lower())
    out: list[tuple[str, bool]] = []
    for line in json.dumps(resource, indent=2, sort_keys=True, default=str).splitlines():
        key = line.strip().split('":', 1)[0].lstrip('"').lower() if '":' in line else ""
        out.append((line, bool(key) and key in keys))
    return out
