"""Deliver outbox messages: idempotent, per integration, nflog written only after success.

:func:`deliver` handles one message. For each integration of the receiver it
checks the notification log: if this notification key is already recorded (or
the log says nothing needs sending), it does nothing; otherwise it sends and
records the log entry only after the send succeeded. A notification split into
parts (Teams cards) records its sent parts, so a retry sends only the rest.
A retried dispatcher therefore never sends an integration's notification twice.

The alerts queue's trigger, ``vigil.handlers.dispatch_alert``, calls :func:`deliver` once per
queue message and leaves retries and the poison queue to the queue host (Function App and CLI
alike: ``vigil run`` and ``vigil alerts dispatch`` drain the CLI's local alerts queue with it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.acks import get_acks
from alerts.alertstate import read_alerts
from alerts.compiled import Integration, compiled
from alerts.nflog import entry_key, log_sent, needs_update, read_entry
from alerts.notify import AlertView, DirectorySink, NotificationPayload, Notifier, NotifyResult, redact
from alerts.receipts import ReceiptJournal
from alerts.remediation.execute import outcomes_for
from core.state.base import Namespace, StateStore

if TYPE_CHECKING:
    import httpx

    from alerts.config import AlertingConfig, GlobalConfig
    from alerts.money import DisplayConfig

__all__ = ["DeliveryResult", "build_notifier", "deliver"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryResult:
    key: str
    sent: list[str] = field(default_factory=list)  # integrations sent now
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (integration, why)
    failures: list[tuple[str, str, bool]] = field(default_factory=list)  # (integration, reason, retryable)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def retryable(self) -> bool:
        return any(r for _, _, r in self.failures)

    @property
    def reason(self) -> str:
        return "; ".join(f"{i}: {r}" for i, r, _ in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "ok": self.ok,
            "retryable": self.retryable,
            "sent": self.sent,
            "skipped": [list(s) for s in self.skipped],
            "failures": [{"integration": i, "reason": r, "retryable": rt} for i, r, rt in self.failures],
        }


def build_notifier(
    integ: Integration,
    *,
    sink: DirectorySink | None = None,
    signing_key: bytes | None = None,
    action_base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    global_cfg: GlobalConfig | None = None,
    templates: tuple[str, ...] = (),
) -> Notifier:
    from alerts.config import EmailConfig, MSTeamsConfig, WebhookConfig

    cfg = integ.config
    if isinstance(cfg, MSTeamsConfig):
        from alerts.channels.msteams import MSTeamsNotifier

        if cfg.action_base_url is None and action_base_url:
            # The host's public URL (with the card_action function key) unless the config names one.
            cfg = cfg.model_copy(update={"action_base_url": action_base_url})
        return MSTeamsNotifier(cfg, sink=sink, signing_key=signing_key, transport=transport, templates=templates)
    if isinstance(cfg, EmailConfig):
        from alerts.channels.email import EmailNotifier

        return EmailNotifier(cfg, sink=sink, templates=templates)
    if isinstance(cfg, WebhookConfig):
        from alerts.channels.webhook import WebhookNotifier

        return WebhookNotifier(cfg, sink=sink, transport=transport)
    from alerts.channels.registry import build_channel

    return build_channel(cfg, global_cfg=global_cfg, sink=sink, transport=transport, templates=templates)


def _lookup(notifiers: Mapping[str, Notifier] | None, receiver: str, integ: Integration) -> Notifier | None:
    if not notifiers:
        return None
    for k in (f"{receiver}/{integ.name}", integ.name, integ.kind):
        if k in notifiers:
            return notifiers[k]
    return None


def _urls(integ: Integration) -> list[str]:
    """The receiver's secret URLs from its config, for :func:`alerts.notify.redact`."""
    return [str(v) for k in ("webhook_url", "url", "api_url") if (v := getattr(integ.config, k, None))]


def _progress_key(notification_key: str, receiver: str, integ: str) -> str:
    return f"progress|{receiver}|{integ}|{notification_key}"


def deliver(
    message: Mapping[str, Any],
    *,
    config: AlertingConfig,
    store: StateStore,
    notifiers: Mapping[str, Notifier] | None = None,
    now: datetime,
    sink: DirectorySink | None = None,
    signing_key: bytes | None = None,
    action_base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    receipts: ReceiptJournal | None = None,
) -> DeliveryResult:
    """Deliver one outbox message. Safe to call again with the same message.

    ``receipts`` (the instance's local journal, see alerts.receipts) is written right
    after a channel accepts, before the notification log: a redelivery after the log
    write failed then records the log entry instead of sending again.
    """
    key = str(message["key"])
    result = DeliveryResult(key)
    receiver = str(message["receiver"])
    c = compiled(config)
    integs = c.integrations.get(receiver)
    if integs is None:
        result.failures.append(("-", f"undefined receiver {receiver!r}", False))
        return result
    secret_urls = [u for group in c.integrations.values() for i in group for u in _urls(i)]  # every receiver's
    firing = frozenset(message.get("firing", ()))
    shown_resolved = frozenset(message.get("resolved", ()))
    resolved = shown_resolved | frozenset(message.get("resolved_notified", ()))
    repeat = timedelta(seconds=int(message.get("repeat_interval_s", 4 * 3600)))
    group_key = str(message["group_key"])
    group_hash = str(message["group_hash"])
    issued_at = datetime.fromisoformat(message["created_at"]) if message.get("created_at") else now

    views: list[AlertView] | None = None
    for integ in integs:
        ekey = entry_key(receiver, integ.name, group_hash)
        entry = read_entry(store, ekey)
        if entry is not None and key in entry.keys:
            result.skipped.append((integ.name, "already sent"))
            continue
        pkey = _progress_key(key, receiver, integ.name)
        receipt = receipts.get(pkey) if receipts is not None else None
        if receipt is not None and receipt.get("done"):
            # The channel accepted it on an earlier attempt whose log write failed: log it, send nothing.
            log_sent(store, ekey, firing=firing, resolved=resolved, notification_key=key, now=now, group_key=group_key)
            store.delete(Namespace.NFLOG, pkey)
            if receipts is not None:
                receipts.forget(pkey)
            result.skipped.append((integ.name, "already sent (local receipt)"))
            log.info("notification logged from local receipt", extra={"integration": integ.name, "key": key})
            continue
        need, why = needs_update(
            entry, firing, resolved, repeat_interval=repeat, send_resolved=integ.send_resolved, now=now
        )
        if not need:
            result.skipped.append((integ.name, why))
            continue
        if not firing and not integ.send_resolved:
            # Everything resolved but this integration does not send resolved notices:
            # record it so the log forgets the firing set, send nothing (as Alertmanager).
            log_sent(store, ekey, firing=firing, resolved=resolved, notification_key=key, now=now, group_key=group_key)
            result.skipped.append((integ.name, "resolved; send_resolved is false"))
            continue
        if views is None:
            views = _load_views(store, firing, shown_resolved, config if signing_key else None, display=config.display)
        if not views:
            result.skipped.append((integ.name, "alerts no longer stored"))
            continue
        prog = store.get(Namespace.NFLOG, pkey)
        done = frozenset(prog.value.get("parts", ())) if prog else frozenset()
        if receipt is not None:
            done |= frozenset(receipt.get("parts", ()))
        shown = views if integ.send_resolved else [v for v in views if v.alert.ends_at is None]
        payload = NotificationPayload(
            key=key,
            receiver=receiver,
            integration=integ.name,
            group_key=group_key,
            group_labels=dict(message.get("group_labels", {})),
            alerts=shown,
            now=now,
            done_parts=done,
            issued_at=issued_at,
        )
        notifier = _lookup(notifiers, receiver, integ) or build_notifier(
            integ,
            sink=sink,
            signing_key=signing_key,
            transport=transport,
            action_base_url=action_base_url,
            global_cfg=config.global_,
            templates=tuple(config.templates),
        )
        try:
            res = notifier.notify(payload)
        except Exception as exc:  # a channel bug must not lose the message: retry it
            reason = redact(f"{type(exc).__name__}: {exc}", *secret_urls)
            # No traceback: its frames and message may hold the receiver URL (a secret).
            log.error("notifier raised: %s", reason, extra={"integration": integ.name, "key": key})
            result.failures.append((integ.name, reason, True))
            continue
        if res.ok:
            if receipts is not None:
                receipts.record(pkey, parts=sorted(done | set(res.sent_parts)), done=True, now=now)
            log_sent(store, ekey, firing=firing, resolved=resolved, notification_key=key, now=now, group_key=group_key)
            if prog is not None or receipt is not None:
                store.delete(Namespace.NFLOG, pkey)
            if receipts is not None:
                receipts.forget(pkey)
            result.sent.append(integ.name)
            log.info("notification sent", extra={"integration": integ.name, "receiver": receiver, "key": key})
        else:
            if res.sent_parts:
                if receipts is not None:
                    receipts.record(pkey, parts=sorted(done | set(res.sent_parts)), done=False, now=now)
                store.put(Namespace.NFLOG, pkey, {"parts": sorted(done | set(res.sent_parts)), "at": now.isoformat()})
            res = NotifyResult(res.ok, res.retryable, redact(res.reason, *secret_urls), res.sent_parts)
            result.failures.append((integ.name, res.reason, res.retryable))
            log.warning(
                "notification failed",
                extra={"integration": integ.name, "key": key, "reason": res.reason, "retryable": res.retryable},
            )
    return result


def _load_views(
    store: StateStore,
    firing: frozenset[str],
    resolved: frozenset[str],
    config: AlertingConfig | None = None,
    *,
    display: DisplayConfig | None = None,
) -> list[AlertView]:
    """The alerts to show; with ``config`` (links are signed), whether each may carry an Approve
    button: firing now, and the remediation policy allows it (a remediation for its rule, in scope,
    not in dry-run)."""
    from alerts.remediation.policy import approval_refusal

    fps = sorted(firing) + sorted(resolved)
    # one batched read per namespace, not three point reads per alert (a group can hold thousands)
    records, acks, outcomes = read_alerts(store, fps), get_acks(store, fps), outcomes_for(store, fps)
    views = []
    for fp in fps:
        rec = records.get(fp)
        if rec is None:
            continue
        alert = rec.alert()
        if fp in firing and alert.ends_at is not None:
            # resolved since queued: show the state that was due, firing
            from core.model import Alert

            alert = Alert(alert.labels, alert.annotations, alert.starts_at, None)
        approvable = config is not None and rec.firing and approval_refusal(rec.labels, config) is None
        views.append(AlertView(alert, fp, rec.evidence, acks.get(fp), outcomes.get(fp), approvable, display))
    return views
