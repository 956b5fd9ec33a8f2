"""The console's state changes, each a thin call into the lower layers' public functions.

The caller (``vigil.console.app``) has already checked the role and the CSRF token; the
acting identity's name is recorded by the function called (acknowledger, silence author,
approver in the audit ledger and in the remediation request).

Approval: the console records the approval in the audit ledger exactly as a card's signed
link does (``event: remediation_approved``) and queues the same remediation request
(``alerts.remediation.approve.request_from_approval``); the remediation worker then
re-checks the guards and executes. The idempotency key comes from the form, so a double
submit records and queues one approval. Issue 19 reworks the approval flow; this is the
one place to re-point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.acks import acknowledge
from alerts.alertstate import AlertRecord
from alerts.remediation.config import Mode, RemediationConfig
from alerts.remediation.guards import effective_mode
from core.model import ResourceRef
from core.state.base import Namespace, StateStore

__all__ = ["ApprovalError", "RemediationView", "ack", "approve", "remediation_view", "silence_matchers_for"]


class ApprovalError(ValueError):
    """This alert cannot be approved from the console (no action, or the mode does not allow it)."""


@dataclass(frozen=True, slots=True)
class RemediationView:
    action: str | None  # the action the rule maps to, if any
    mode: Mode
    why: str

    @property
    def approvable(self) -> bool:
        return self.action is not None and self.mode == "approve"


def remediation_view(
    alert: AlertRecord, *, config: RemediationConfig, rule_actions: Mapping[str, str]
) -> RemediationView:
    rule = alert.labels.get("alertname", "")
    action = {**rule_actions, **config.actions}.get(rule)
    rid = alert.labels.get("resource_id", "")
    if not action:
        return RemediationView(None, config.mode, f"rule {rule or '?'} has no remediation action")
    if not rid.startswith("/subscriptions/"):
        return RemediationView(None, config.mode, "the alert names no Azure resource")
    mode, why = effective_mode(config.mode, rule, ResourceRef.from_id(rid), config)
    return RemediationView(action, mode, why)


def ack(store: StateStore, fingerprint: str, *, by: str, comment: str, now: datetime) -> dict[str, Any]:
    return acknowledge(store, fingerprint, by=by, comment=comment, now=now)


def silence_matchers_for(alert: AlertRecord) -> list[str]:
    """The matchers a silence pre-filled from this alert starts with (as a card's Silence button)."""
    names: list[str] = [n for n in ("alertname", "resource_id") if n in alert.labels] or sorted(alert.labels)
    return [f'{n}="{_quote(alert.labels[n])}"' for n in names]


def _quote(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


def approve(
    store: StateStore,
    alert: AlertRecord,
    *,
    by: str,
    idempotency_key: str,
    config: RemediationConfig,
    rule_actions: Mapping[str, str],
    enqueue: Callable[[dict[str, str]], None] | None,
    now: datetime,
) -> dict[str, Any]:
    """Record ``by``'s approval of this alert's remediation and queue it for the worker."""
    from alerts.remediation.approve import request_from_approval

    view = remediation_view(alert, config=config, rule_actions=rule_actions)
    if not view.approvable:
        raise ApprovalError(f"cannot approve: {view.why} (mode {view.mode})")
    if not idempotency_key.strip():
        raise ApprovalError("the approval form carries no idempotency key: reload the page")
    nonce = f"console:{alert.fingerprint}:{idempotency_key.strip()}"
    entry = {
        "event": "remediation_approved",
        "fingerprint": alert.fingerprint,
        "by": by,
        "at": now.isoformat(),
        "labels": dict(alert.labels),
        "nonce": nonce,
        "via": "console",
    }
    key = f"approval:{nonce}"
    first = not any(r.key == key for r in store.ledger(Namespace.AUDIT))
    store.append(Namespace.AUDIT, entry, key=key)
    request, why = request_from_approval(entry, rule_actions=rule_actions, config=config)
    if request is not None and enqueue is not None and first:
        enqueue(request)
    return {"approval": entry, "remediation": why, "queued": bool(request is not None and enqueue and first)}
