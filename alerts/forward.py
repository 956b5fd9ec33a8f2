"""The forwarding timer: Vigil's alerts stay active in the Alertmanagers its ``alertmanager_configs`` name.

Alertmanager resolves an alert once its ``endsAt`` passes. :func:`forward` runs on a timer
(``FORWARD_SCHEDULE``): every firing alert routed to a forwarding integration, and not inhibited,
silenced or held by its route's time intervals (as for notifications), is posted again with
``endsAt = now + ends_after``. The caller passes a time beyond the timer's next run, so the alert stays
active from one run to the next whatever the route's ``repeat_interval``. A resolved alert is posted once
(when the integration has ``send_resolved``), with its resolution time as ``endsAt``; a marker in the
notification log (``<receiver>|<integration>|forwarded:<fingerprint>``, dropped by the log's GC after the
alert has left the alert state) remembers that it was. A failed post is retried by the next run; posting
the same alert twice is harmless (Alertmanager merges it by its labels).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.alertstate import AlertRecord, load_alerts
from alerts.compiled import compiled
from alerts.config import AlertmanagerForwardConfig
from alerts.notify import AlertView, DirectorySink, NotificationPayload
from alerts.pipeline import RESOLVED_RETENTION, muted_by_time, muting
from core.state.base import Namespace, StateStore

if TYPE_CHECKING:
    import httpx

    from alerts.config import AlertingConfig

__all__ = ["forward", "marker_key"]

log = logging.getLogger(__name__)


def marker_key(receiver: str, integration: str, fingerprint: str) -> str:
    return f"{receiver}|{integration}|forwarded:{fingerprint}"


def _told(store: StateStore, receiver: str, integration: str, rec: AlertRecord) -> bool:
    marker = store.get(Namespace.NFLOG, marker_key(receiver, integration, rec.fingerprint))
    return marker is not None and rec.ends_at is not None and marker.value.get("ends_at") == rec.ends_at.isoformat()


def _sink_payload(receiver: str, integration: str, recs: Sequence[AlertRecord], now: datetime) -> NotificationPayload:
    """What names the file in an outbox folder (the CLI): one per run and integration."""
    key = hashlib.sha256(f"{receiver}|{integration}|forward|{now.isoformat()}".encode()).hexdigest()[:32]
    views = [AlertView(r.alert(), r.fingerprint, dict(r.evidence), None) for r in recs]
    return NotificationPayload(key, receiver, integration, "forward", {}, views, now, issued_at=now)


def forward(
    config: AlertingConfig,
    store: StateStore,
    now: datetime,
    *,
    ends_after: timedelta,
    sink: DirectorySink | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Post the current alerts of every forwarding integration (see the module docstring)."""
    from alerts.channels.alertmanager import AlertmanagerForwarder

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    c = compiled(config)
    targets = [(recv, i) for recv, integs in c.integrations.items() for i in integs if i.kind == "alertmanager"]
    result: dict[str, Any] = {"forwarders": len(targets), "firing": 0, "resolved": 0, "failed": []}
    if not targets:
        return result
    alerts, _ = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    muted = muting(config, store, alerts, now)
    wanted = {recv for recv, _ in targets}
    batches: dict[str, dict[str, AlertRecord]] = {}
    for fp, rec in alerts.items():
        if muted(fp, rec.labels):
            continue
        for route in c.root.match(rec.labels):
            o = route.opts
            if o.receiver not in wanted:
                continue
            if (o.mute_time_intervals or o.active_time_intervals) and muted_by_time(route, c.time_intervals, now):
                continue
            batches.setdefault(o.receiver, {})[fp] = rec
    for recv, integ in targets:
        cfg = integ.config
        if not isinstance(cfg, AlertmanagerForwardConfig):
            continue
        batch = sorted(batches.get(recv, {}).values(), key=lambda r: r.fingerprint)
        firing = [r for r in batch if r.firing]
        resolved = [r for r in batch if not r.firing and cfg.send_resolved and not _told(store, recv, integ.name, r)]
        if not (firing or resolved):
            continue
        recs = firing + resolved
        fwd = AlertmanagerForwarder(cfg, global_cfg=config.global_, sink=sink, transport=transport)
        payload = _sink_payload(recv, integ.name, recs, now) if sink is not None else None
        res = fwd.post([r.alert() for r in recs], now=now, ends_after=ends_after, payload=payload)
        if not res.ok:
            log.warning(
                "forwarding to Alertmanager failed; the next run posts again",
                extra={"receiver": recv, "integration": integ.name, "reason": res.reason},
            )
            result["failed"].append({"receiver": recv, "integration": integ.name, "reason": res.reason})
            continue
        for r in resolved:
            ends = r.ends_at.isoformat() if r.ends_at else None
            store.put(
                Namespace.NFLOG, marker_key(recv, integ.name, r.fingerprint), {"at": now.isoformat(), "ends_at": ends}
            )
        result["firing"] += len(firing)
        result["resolved"] += len(resolved)
    return result
