"""findings -> alerts -> inhibit -> silence -> route -> group -> dedup -> outbox.

:func:`process` is a batch step, safe to call again at any time (also with no
findings, to flush groups whose group_wait/group_interval has elapsed):

1. Findings update the alert state (``Namespace.ALERTS``), keeping ``starts_at``.
2. Inhibition rules and active silences mute alerts (muted alerts are not
   notified and stay out of the notification log).
3. Each alert is routed (depth first, ``continue``) and grouped by the route's
   ``group_by`` (``...`` = all labels) into Alertmanager group keys.
4. Timing, as Alertmanager: a new group is due at ``min(starts_at) + group_wait``
   (so an alert older than group_wait is notified at once, as Alertmanager does
   for alerts whose wait is already over); a group notified before is due again
   ``group_interval`` after its last notification. Routes muted by
   mute/active time intervals are held.
5. Dedup: the pure ``needs_update`` over the notification log, per integration
   (repeat_interval, send_resolved). A due group that needs an update becomes
   one outbox message, keyed by a notification key that is stable until that
   notification is sent, so re-running enqueues nothing new.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.alertstate import AlertRecord, load_alerts, merge_findings
from alerts.compiled import compiled
from alerts.inhibit import Inhibitor
from alerts.nflog import NflogEntry, entry_key, needs_update, read_entry
from alerts.outbox import OutboxWriter
from alerts.routing import Route, group_key_hash
from alerts.silences import active_silences, silenced_by
from alerts.timeintervals import in_any
from core.model import Finding
from core.state.base import Namespace, StateStore

if TYPE_CHECKING:
    from alerts.config import AlertingConfig

__all__ = ["ProcessResult", "current_alerts", "gc", "muted_by_time", "muting", "notification_key", "process"]

log = logging.getLogger(__name__)

RESOLVED_RETENTION = timedelta(days=5)
NFLOG_RETENTION = timedelta(days=5)  # Alertmanager's default data retention (120h)
OUTBOX_RETENTION = timedelta(days=7)  # sent/failed outbox records kept for `vigil alerts outbox`
GC_EVERY = timedelta(hours=1)


@dataclass(slots=True)
class ProcessResult:
    findings: int = 0
    new: int = 0
    updated: int = 0
    resolved: int = 0
    ignored: int = 0
    alerts: int = 0  # alerts considered (firing + recently resolved)
    firing: int = 0
    inhibited: int = 0
    silenced: int = 0
    groups: int = 0
    time_muted: int = 0  # groups held by mute/active time intervals
    pending: int = 0  # groups waiting for group_wait / group_interval
    up_to_date: int = 0  # groups the notification log says need nothing
    enqueued: list[str] = field(default_factory=list)  # notification keys
    already_queued: int = 0
    next_flush_at: datetime | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k not in ("messages", "enqueued", "next_flush_at")}
        d["enqueued"] = len(self.enqueued)
        d["next_flush_at"] = self.next_flush_at.isoformat() if self.next_flush_at else None
        return d


def notification_key(receiver: str, group_key: str, firing: Iterable[str], resolved: Iterable[str], basis: str) -> str:
    """Stable id of one due notification: same inputs, same key; a repeat gets a new one.

    ``basis`` is the latest notification time among the integrations that need this one
    ("-" if none was ever notified). It stays the same while the notification is queued
    or retrying (also when some integrations already succeeded), so re-runs produce the
    same key and the outbox refuses the duplicate; a repeat after repeat_interval gets a
    new one. Delivery checks the log per integration in any case, so even a second
    message for the same content never sends twice.
    """
    h = hashlib.sha256()
    for part in (receiver, group_key, ",".join(sorted(firing)), ",".join(sorted(resolved)), basis):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def muted_by_time(route: Route, intervals: dict[str, Any], now: datetime) -> bool:
    """The route is held now by its ``mute_time_intervals`` or outside its ``active_time_intervals``."""
    o = route.opts
    if any(in_any(intervals.get(n, ()), now) for n in o.mute_time_intervals):
        return True
    return bool(o.active_time_intervals) and not any(in_any(intervals.get(n, ()), now) for n in o.active_time_intervals)


def muting(
    config: AlertingConfig, store: StateStore, alerts: Mapping[str, AlertRecord], now: datetime
) -> Callable[[str, Mapping[str, str]], str | None]:
    """``muted(fingerprint, labels)``: "inhibited" (by a firing alert, through ``inhibit_rules``),
    "silenced" (an active silence) or None."""
    inhibitor = Inhibitor(config.inhibit_rules, ((fp, a.labels) for fp, a in alerts.items() if a.firing))
    silences = active_silences(store, now)

    def muted(fp: str, labels: Mapping[str, str]) -> str | None:
        if inhibitor.rules and inhibitor.inhibited_by(fp, labels):
            return "inhibited"
        if silences and silenced_by(silences, labels):
            return "silenced"
        return None

    return muted


def process(
    findings: Iterable[Finding],
    *,
    config: AlertingConfig,
    store: StateStore,
    outbox: OutboxWriter,
    now: datetime,
) -> ProcessResult:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    c = compiled(config)
    res = ProcessResult()
    findings = list(findings)
    res.findings = len(findings)

    alerts, _expired = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    stats = merge_findings(store, alerts, findings, now=now)
    res.new, res.updated, res.resolved, res.ignored = stats.new, stats.updated, stats.resolved, stats.ignored
    res.alerts = len(alerts)

    muted = muting(config, store, alerts, now)

    groups: dict[tuple[int, str], tuple[Route, str, list[AlertRecord]]] = {}
    for fp, a in alerts.items():
        if a.firing:
            res.firing += 1
        why = muted(fp, a.labels)
        if why == "inhibited":
            res.inhibited += 1
            continue
        if why == "silenced":
            res.silenced += 1
            continue
        for route in c.root.match(a.labels):
            gk = route.group_key(a.labels)
            slot = groups.get((id(route), gk))
            if slot is None:
                groups[(id(route), gk)] = (route, gk, [a])
            else:
                slot[2].append(a)
    res.groups = len(groups)

    for route, gk, members in groups.values():
        receiver = route.opts.receiver
        integs = c.integrations.get(receiver, [])
        if not integs:
            continue  # a receiver with no integrations is a black hole, as in Alertmanager
        if (route.opts.mute_time_intervals or route.opts.active_time_intervals) and muted_by_time(
            route, c.time_intervals, now
        ):
            res.time_muted += 1
            continue
        firing = frozenset(a.fingerprint for a in members if a.firing)
        resolved = frozenset(a.fingerprint for a in members if not a.firing)
        gh = group_key_hash(f"{receiver}|{gk}")
        entries: list[NflogEntry | None] = [read_entry(store, entry_key(receiver, i.name, gh)) for i in integs]
        reasons = []
        basis: list[datetime] = []
        for integ, entry in zip(integs, entries, strict=True):
            need, why = needs_update(
                entry,
                firing,
                resolved,
                repeat_interval=route.opts.repeat_interval,
                send_resolved=integ.send_resolved,
                now=now,
            )
            if need:
                reasons.append(f"{integ.name}: {why}")
                if entry is not None:
                    basis.append(entry.sent_at)
        if not reasons:
            res.up_to_date += 1
            continue
        sent = [e.sent_at for e in entries if e is not None]
        last_sent = max(sent) if sent else None
        if last_sent is not None:
            due = last_sent + route.opts.group_interval
        else:
            due = min((a.starts_at for a in members if a.firing), default=now) + route.opts.group_wait
        if due > now:
            res.pending += 1
            res.next_flush_at = due if res.next_flush_at is None else min(res.next_flush_at, due)
            continue
        key = notification_key(receiver, gk, firing, resolved, max(basis).isoformat() if basis else "-")
        # Resolved alerts every integration already reported stay in the log but are not shown
        # again (Alertmanager drops them from the group once their resolution was notified).
        told = resolved
        for e in entries:
            told = told & e.resolved if e is not None else frozenset()
        message = {
            "v": 1,
            "key": key,
            "receiver": receiver,
            "route": route.id,
            "group_key": gk,
            "group_hash": gh,
            "group_labels": route.group_labels(members[0].labels),
            "firing": sorted(firing),
            "resolved": sorted(resolved - told),
            "resolved_notified": sorted(told),
            "repeat_interval_s": int(route.opts.repeat_interval.total_seconds()),
            "created_at": now.isoformat(),
            "reasons": reasons,
        }
        if outbox.enqueue(message, now=now):
            res.enqueued.append(key)
            res.messages.append(message)
        else:
            res.already_queued += 1
    last_gc = store.get(Namespace.CHECKPOINTS, "alerts-gc")
    if last_gc is None or datetime.fromisoformat(last_gc.value["at"]) <= now - GC_EVERY:
        longest_repeat = max(r.opts.repeat_interval for r in c.root.walk())
        gc(store, now, nflog_retention=max(NFLOG_RETENTION, longest_repeat + timedelta(days=1)))
    log.info(
        "alert pipeline processed findings",
        extra={"findings": res.findings, "alerts": res.alerts, "groups": res.groups, "enqueued": len(res.enqueued)},
    )
    return res


def gc(store: StateStore, now: datetime, *, nflog_retention: timedelta = NFLOG_RETENTION) -> dict[str, int]:
    """Forget notification-log entries older than ``nflog_retention`` (process() keeps them a day
    longer than the longest repeat_interval) and finished outbox records older than
    OUTBOX_RETENTION (pending ones are never touched)."""
    nflog = outbox = 0
    for rec in list(store.query(Namespace.NFLOG)):
        at = rec.value.get("sent_at") or rec.value.get("at")
        if at and datetime.fromisoformat(at) < now - nflog_retention:
            store.delete(Namespace.NFLOG, rec.key)
            nflog += 1
    for rec in list(store.query(Namespace.OUTBOX)):
        v = rec.value
        finished = v.get("state") in ("sent", "failed") and v.get("updated_at")
        if finished and datetime.fromisoformat(v["updated_at"]) < now - OUTBOX_RETENTION:
            store.delete(Namespace.OUTBOX, rec.key)
            outbox += 1
    store.put(Namespace.CHECKPOINTS, "alerts-gc", {"at": now.isoformat(), "nflog": nflog, "outbox": outbox})
    return {"nflog": nflog, "outbox": outbox}


def current_alerts(store: StateStore, now: datetime) -> list[dict[str, Any]]:
    """Every alert in the alert state (firing, and resolved within RESOLVED_RETENTION) as a JSON
    dict with its fingerprint and evidence, by detector then fingerprint (``alerts.jsonl``, the digest)."""
    from alerts.alertstate import load_alerts

    records, _ = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    out = []
    for fp, rec in sorted(records.items(), key=lambda kv: (kv[1].labels.get("detector", ""), kv[0])):
        d = rec.alert().to_dict()
        d["fingerprint"] = fp
        d["evidence"] = rec.evidence
        out.append(d)
    return out
