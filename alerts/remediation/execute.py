"""Executing one remediation action, and the append-only audit ledger.

Each execution reads the current state first and does nothing when the
resource is already in the target state, so applying the same action twice
makes one change. Every attempt (succeeded, no-op, failed, skipped) is appended
to the ledger (``Namespace.AUDIT``) with who approved it, when, the state before
and after, the result and the correlation id. The outcome is also recorded
against the alert's fingerprint, so later cards and `vigil alerts list` show
"remediated by …" or "failed: …".

Two workers never act on one resource at once: an execution first claims
(action, resource) in the state store (add-if-absent, ETag takeover of a claim
older than ``CLAIM_TTL`` whose holder died). A worker that finds the claim held
raises :class:`RemediationBusyError` without any ARM call; its request is
deferred and, run later, finds the resource already in the target state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.remediation.actions import Action
from alerts.remediation.arm import ArmClient, ArmError
from core.state.base import ConcurrencyError, Namespace, Record, StateStore

__all__ = [
    "CLAIM_TTL",
    "OUTCOMES",
    "LedgerEntry",
    "RemediationBusyError",
    "execute",
    "ledger_entries",
    "outcome_for",
    "outcomes_for",
]

log = logging.getLogger(__name__)

OUTCOMES = "remediation_outcomes"
RUNS = "remediation_runs"  # ledger key -> the entry, so a redelivered request returns it unchanged
CLAIMS = "remediation_claims"  # "<action>|<resource id>" -> the execution acting on it now
CLAIM_TTL = timedelta(minutes=30)  # longer than any action's LRO; a dead holder's claim is taken over after it
Result = Literal["succeeded", "noop", "failed", "skipped"]


class RemediationBusyError(RuntimeError):
    """Another execution is acting on this resource with this action right now: try later."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    key: str
    at: str
    action: str
    resource_id: str
    fingerprint: str
    rule: str
    mode: str
    approved_by: str
    result: Result
    detail: str
    correlation_id: str
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    permissions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["permissions"] = list(self.permissions)
        d["before"] = dict(self.before)
        d["after"] = dict(self.after)
        return d


def _summary(action: Action, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of the state the action is about (kept small for the ledger)."""
    if state is None:
        return {"exists": False}
    return {"exists": True, "target_state": action.is_done(state)}


def execute(
    action: Action,
    *,
    resource_id: str,
    fingerprint: str,
    rule: str,
    mode: str,
    approved_by: str,
    correlation_id: str,
    arm: ArmClient,
    store: StateStore,
    now: datetime,
    key: str,
) -> LedgerEntry:
    """Run ``action`` on ``resource_id`` once. ``key`` makes the ledger append
    idempotent (the approval nonce, or the run id and fingerprint for auto)."""
    prior = store.get(RUNS, key)
    if prior is not None:
        return _entry(prior)
    with _claimed(store, f"{action.id}|{resource_id.lower()}", key, now):  # ARM ids are case-insensitive
        prior = store.get(RUNS, key)  # the holder we took over from may have finished after all
        if prior is not None:
            return _entry(prior)
        state_path = resource_id + action.state_suffix
        before_state: Mapping[str, Any] | None = None
        after_state: Mapping[str, Any] | None = None
        try:
            before_state = arm.get(state_path, action.api_version)
            if before_state is None:
                result: Result = "skipped"
                detail = "resource not found (deleted?)"
            elif action.is_done(before_state):
                result, detail = "noop", "already in the target state: no change made"
                after_state = before_state
            else:
                body = action.body(before_state) if action.body else None
                if action.method == "POST":
                    arm.call("POST", resource_id + action.path_suffix, action.api_version, body)
                elif action.method == "PATCH":
                    arm.call("PATCH", resource_id, action.api_version, body)
                else:  # TAGS
                    arm.call("PATCH", resource_id + action.state_suffix, action.api_version, body)
                after_state = arm.get(state_path, action.api_version)
                if after_state is not None and action.is_done(after_state):
                    result, detail = "succeeded", action.title
                else:
                    result, detail = "failed", "the operation finished but the resource is not in the target state"
        except ArmError as exc:
            if exc.retryable:
                # Throttling, 5xx or network after the SDK's own retries: record nothing and let the
                # caller's platform redeliver; the next attempt starts again from a fresh read.
                raise
            result, detail = "failed", str(exc)
        entry = LedgerEntry(
            key=key,
            at=now.isoformat(),
            action=action.id,
            resource_id=resource_id,
            fingerprint=fingerprint,
            rule=rule,
            mode=mode,
            approved_by=approved_by,
            result=result,
            detail=detail,
            correlation_id=correlation_id,
            before=_summary(action, before_state),
            after=_summary(action, after_state),
            permissions=action.permissions,
        )
        store.append(Namespace.AUDIT, entry.to_dict(), key=key)
        store.put(RUNS, key, entry.to_dict())
        outcome = {
            "succeeded": f"remediated by {approved_by}: {action.title}",
            "noop": f"already remediated ({action.title})",
            "skipped": f"remediation skipped: {detail}",
            "failed": f"remediation failed: {detail}",
        }[result]
        store.put(OUTCOMES, fingerprint, {"outcome": outcome, "result": result, "at": entry.at, "action": action.id})
        level = logging.WARNING if result == "failed" else logging.INFO
        log.log(
            level,
            "remediation %s on %s: %s",
            action.id,
            resource_id,
            result,
            extra={"action": action.id, "resource_id": resource_id, "result": result, "correlation_id": correlation_id},
        )
        return entry


@contextlib.contextmanager
def _claimed(store: StateStore, name: str, key: str, now: datetime) -> Iterator[None]:
    """Hold the claim on (action, resource) for the block; RemediationBusyError while another holds it."""
    claim = _claim(store, name, key, now)
    if claim is None:
        action_id, _, resource_id = name.partition("|")
        raise RemediationBusyError(f"{action_id} on {resource_id} is being executed by another worker")
    try:
        yield
    finally:
        # ConcurrencyError: taken over meanwhile (we were slower than CLAIM_TTL); the new holder releases it
        with contextlib.suppress(ConcurrencyError):
            store.delete(CLAIMS, name, etag=claim.etag)


def _entry(rec: Record) -> LedgerEntry:
    value = dict(rec.value)
    value["permissions"] = tuple(value.get("permissions", ()))
    return LedgerEntry(**value)


def _claim(store: StateStore, name: str, key: str, now: datetime) -> Record | None:
    """Claim (action, resource) for this execution; None while a live claim is held elsewhere."""
    value = {"key": key, "at": now.isoformat()}
    for _ in range(3):
        if store.add(CLAIMS, name, value):
            rec = store.get(CLAIMS, name)  # for its ETag
            if rec is not None and rec.value == value:
                return rec
            continue
        held = store.get(CLAIMS, name)
        if held is None:
            continue  # released between our add and get: try again
        if datetime.fromisoformat(str(held.value["at"])) > now - CLAIM_TTL:
            return None
        try:
            return store.put(CLAIMS, name, value, etag=held.etag)  # the holder died: take over
        except ConcurrencyError:
            return None  # someone else took it over first
    return None


def ledger_entries(store: StateStore) -> Iterator[dict[str, Any]]:
    for rec in store.ledger(Namespace.AUDIT):
        yield dict(rec.value)


def outcome_for(store: StateStore, fingerprint: str) -> str | None:
    rec = store.get(OUTCOMES, fingerprint)
    return str(rec.value["outcome"]) if rec else None


def outcomes_for(store: StateStore, fingerprints: Iterable[str]) -> dict[str, str]:
    """The remediation outcomes of those of ``fingerprints`` that have one."""
    return {fp: str(rec.value["outcome"]) for fp, rec in store.get_many(OUTCOMES, fingerprints).items()}
