"""Approval links: an HMAC-signed, expiring, single-use link per planned step
(``alerts.signing``), and the handler the HTTP function calls when a link is
opened. Guards are checked again at execution time, against fresh state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.alertstate import read_alert
from alerts.remediation.actions import action
from alerts.remediation.arm import ArmClient
from alerts.remediation.config import RemediationConfig
from alerts.remediation.execute import LedgerEntry, execute
from alerts.remediation.guards import check_scope, effective_mode, exemption, normalise_resource_id
from alerts.remediation.plan import PlanStep
from alerts.remediation.policy import QueueAuthError, approval_refusal, verify_request
from alerts.remediation.rate import take_slot
from alerts.signing import LinkError, derive_nonce, sign_link, verify_link
from core.model import ResourceRef
from core.state.base import Namespace, StateStore

if TYPE_CHECKING:
    from alerts.config import AlertingConfig

__all__ = [
    "ApprovalRejectedError",
    "approval_link",
    "approval_request",
    "auto_request",
    "check_request",
    "execute_approved",
    "handle_approval",
    "request_from_approval",
]


class ApprovalRejectedError(LinkError):
    """The link was valid but the action is no longer allowed (scope or exemption)."""


def approval_link(step: PlanStep, *, base_url: str, key: bytes, now: datetime, ttl: timedelta) -> str:
    nonce = derive_nonce(key, "approve", step.fingerprint, step.action, now.isoformat())
    params = {"fp": step.fingerprint, "act": step.action, "rid": step.resource_id, "rule": step.rule}
    return sign_link(base_url, "approve", params, key=key, issued_at=now, ttl=ttl, nonce=nonce)


def handle_approval(
    query: Mapping[str, str],
    *,
    key: bytes,
    store: StateStore,
    arm: ArmClient,
    config: RemediationConfig,
    now: datetime,
    approved_by: str,
    correlation_id: str,
) -> LedgerEntry:
    """Verify the link (signature, expiry, single use), re-check the guards,
    then execute. Raises :class:`LinkError` for a tampered, expired or replayed
    link, and :class:`ApprovalRejectedError` when a guard now refuses."""
    # Verify without consuming: the nonce is spent only once the action has run, so a
    # passing ARM error (raised to the caller) leaves the link usable for a retry.
    signed = verify_link(query, key=key, now=now, store=store, consume=False)
    if store.get(Namespace.NONCES, signed.nonce) is not None:
        raise LinkError("link already used")
    if signed.action != "approve":
        raise LinkError(f"not an approval link: {signed.action}")
    if config.mode == "dry-run":  # this path knows no routing: only the section's own mode can allow it
        raise ApprovalRejectedError("remediation is in dry-run mode: nothing is approved or executed")
    p = signed.params
    try:
        request = {
            "action": p["act"],
            "resource_id": p["rid"],
            "fingerprint": p["fp"],
            "rule": p.get("rule", ""),
            "nonce": signed.nonce,
        }
    except KeyError as exc:
        raise LinkError(f"approval link lacks {exc}") from None
    entry = execute_approved(
        request,
        store=store,
        arm=arm,
        config=config,
        now=now,
        approved_by=approved_by,
        correlation_id=correlation_id,
    )
    store.add(
        Namespace.NONCES, signed.nonce, {"action": "approve", "used_at": now.isoformat(), "fp": entry.fingerprint}
    )
    return entry


def approval_request(
    *,
    fingerprint: str,
    resource_id: str,
    rule: str,
    action_id: str,
    nonce: str,
    approved_by: str,
    kind: str = "remediation-approved",
) -> dict[str, str]:
    """The queue message for an approval clicked on a card (already verified
    and its nonce consumed by ``alerts.actions.apply_action``), or, with
    ``kind="remediation-auto"``, for an auto-mode step."""
    return {
        "kind": kind,
        "fingerprint": fingerprint,
        "resource_id": resource_id,
        "rule": rule,
        "action": action_id,
        "nonce": nonce,
        "approved_by": approved_by,
    }


def execute_approved(
    request: Mapping[str, str],
    *,
    store: StateStore,
    arm: ArmClient,
    config: RemediationConfig,
    now: datetime,
    approved_by: str,
    correlation_id: str,
) -> LedgerEntry:
    """Re-check the guards against fresh state, then execute once (the ledger key
    is derived from the approval's nonce, so a redelivered message records nothing new)."""
    try:
        act = action(request["action"])
        rid, fp, nonce = request["resource_id"], request["fingerprint"], request["nonce"]
    except KeyError as exc:
        raise LinkError(f"approval lacks {exc}") from None
    try:
        rid = normalise_resource_id(rid)  # before any scope check: no '..', no empty segments, case-folded
    except ValueError as exc:
        raise ApprovalRejectedError(str(exc)) from None
    resource = ResourceRef.from_id(rid)
    scope = check_scope(resource, config)
    if not scope.allowed:
        raise ApprovalRejectedError(scope.reason)
    auto = request.get("kind") == "remediation-auto"
    rule = request.get("rule", "")
    if auto and effective_mode("auto", rule, resource, config)[0] != "auto":
        raise ApprovalRejectedError(f"auto remediation is no longer granted for rule {rule} in this scope")
    current = arm.get(rid, act.api_version)
    reason = exemption((current or {}).get("tags"), config.exempt_tag, now)
    if reason:
        raise ApprovalRejectedError(reason)
    if current is not None and not act.applies_to(resource.type, current):
        raise ApprovalRejectedError(f"action {act.id} does not apply to this resource")
    run_key = f"{'auto' if auto else 'remediate'}:{nonce}"
    if not take_slot(store, run_key, limit=config.max_actions_per_run, now=now):
        raise ApprovalRejectedError(
            f"max_actions_per_run ({config.max_actions_per_run}) actions this hour reached: {act.id} not executed"
        )
    return execute(
        act,
        resource_id=rid,
        fingerprint=fp,
        rule=rule,
        mode="auto" if auto else "approve",
        approved_by=approved_by,
        correlation_id=correlation_id,
        arm=arm,
        store=store,
        now=now,
        key=run_key,
    )


def check_request(message: Mapping[str, Any], *, key: bytes | None, store: StateStore, config: AlertingConfig) -> None:
    """What the remediation worker checks before :func:`execute_approved`: the message is
    signed by this deployment (:func:`alerts.remediation.policy.verify_request`); an
    approval matches the approval recorded when the link was used (fingerprint, resource,
    approver); the alert still fires; and the policy still allows it (mode, rule, scope).
    Raises :class:`ApprovalRejectedError` (final: recorded, not retried)."""
    try:
        verify_request(message, key=key)
    except QueueAuthError as exc:
        raise ApprovalRejectedError(str(exc)) from None
    fp = str(message.get("fingerprint", ""))
    if message.get("kind") == "remediation-approved":
        used = store.get(Namespace.NONCES, str(message.get("nonce", "")))
        recorded = dict(used.value) if used is not None else {}
        if recorded.get("action") != "approve" or recorded.get("fp") != fp:
            raise ApprovalRejectedError("no recorded approval matches this request")
        try:
            same_rid = normalise_resource_id(str(recorded.get("resource_id", ""))) == normalise_resource_id(
                str(message.get("resource_id", ""))
            )
        except ValueError as exc:
            raise ApprovalRejectedError(str(exc)) from None
        if not same_rid or recorded.get("by") != message.get("approved_by"):
            raise ApprovalRejectedError("the request does not match its recorded approval (resource or approver)")
    alert = read_alert(store, fp)
    if alert is None or not alert.firing:
        raise ApprovalRejectedError(f"alert {fp} is no longer firing: nothing is done")
    why = approval_refusal(alert.labels, config)
    if why:
        raise ApprovalRejectedError(why)


def auto_request(step: PlanStep, *, run_id: str) -> dict[str, str]:
    """The queue message for a step the planner marked ``execute`` (auto mode)."""
    return approval_request(
        fingerprint=step.fingerprint,
        resource_id=step.resource_id,
        rule=step.rule,
        action_id=step.action,
        nonce=f"{run_id}:{step.fingerprint}:{step.action}",
        approved_by="vigil (auto)",
        kind="remediation-auto",
    )


def request_from_approval(
    approval: Mapping[str, Any], *, rule_actions: Mapping[str, str], config: RemediationConfig
) -> tuple[dict[str, str] | None, str]:
    """Turn a card's recorded approval (``alerts.actions.apply_action``) into a
    remediation queue message, or say why there is nothing to do."""
    labels = approval.get("labels") or {}
    rule = str(labels.get("alertname", ""))
    try:
        rid = normalise_resource_id(str(labels.get("resource_id", ""))) if labels.get("resource_id") else ""
    except ValueError as exc:
        return None, str(exc)
    action_id = {**rule_actions, **config.actions}.get(rule)
    if not action_id:
        return None, f"rule {rule or '?'} has no remediation action"
    if not rid:
        return None, "the alert names no resource"
    return (
        approval_request(
            fingerprint=str(approval.get("fingerprint", "")),
            resource_id=rid,
            rule=rule,
            action_id=action_id,
            nonce=str(approval.get("nonce", "")),
            approved_by=str(approval.get("by", "")),
        ),
        f"queued {action_id} on {rid}",
    )
