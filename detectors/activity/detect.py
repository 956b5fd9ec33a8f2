"""Activity detector: ``detect(records=..., config=..., now=..., drift_parameters=...)`` is pure.

Records (Activity Log ``EventData``) are folded into operations (``record.operations``); each rule
listed in ``rules.txt`` judges them (``RULES``: explicit, a listed rule without a check is an error).
A finding is FIRING and never RESOLVED: it reports an act, not a state. Its labels carry the
operation's correlation id, so the same operation read twice (the Start and End records, overlapping
windows, a redelivery) is one alert, and two grants are two. Annotations name who did it, from where
and when (``changed_by``, ``caller_ip``, ``changed_at``, ``correlation_id``) and the MITRE ATT&CK
technique where one applies.

Rules that judge a resource the operation wrote (role assignment, NSG, Key Vault, ML workspace)
evaluate the drift rule pack's own policy definitions (``detectors/drift/rules``) on it, with the
drift config's parameters: one implementation of each condition for events, scans and the activity log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.model import Finding, ResourceRef, Status
from detectors.activity.common import Check, Context, Hit
from detectors.activity.record import operations
from detectors.activity.rules.diagnostic_settings_deleted import check as diag
from detectors.activity.rules.failed_write_burst import check as burst
from detectors.activity.rules.keyvault_access_opened import check as keyvault
from detectors.activity.rules.ml_workspace_public_access_enabled import check as mlws
from detectors.activity.rules.nsg_management_port_opened import check as nsg
from detectors.activity.rules.policy_assignment_deleted import check as policy
from detectors.activity.rules.privileged_role_assignment import check as rbac
from detectors.activity.rules.storage_keys_listed_by_user import check as keys
from detectors.base import Family, RuleMeta
from detectors.config import ActivityConfig
from detectors.drift.engine import CompiledPolicy
from detectors.registry import family_folders, rule

__all__ = ["FAMILY", "RULES", "SHARED_DRIFT_RULES", "detect", "shared_policies"]

FAMILY: Family = "activity"

RULES: dict[str, Check] = {
    "privileged_role_assignment": rbac.check,
    "policy_assignment_deleted": policy.check,
    "diagnostic_settings_deleted": diag.check,
    "storage_keys_listed_by_user": keys.check,
    "keyvault_access_opened": keyvault.check,
    "nsg_management_port_opened": nsg.check,
    "ml_workspace_public_access_enabled": mlws.check,
    "failed_write_burst": burst.check,
}
# The drift rules whose policies these rules evaluate.
SHARED_DRIFT_RULES = (rbac.POLICY, keyvault.POLICY, nsg.POLICY, mlws.POLICY)


def _checks() -> list[tuple[RuleMeta, Check]]:
    out = []
    for folder in family_folders(FAMILY):
        if folder.name not in RULES:
            raise KeyError(f"activity rule {folder.name!r} is listed in rules.txt but has no check in detect.RULES")
        out.append((rule(folder.name), RULES[folder.name]))
    return out


def shared_policies(parameters: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, CompiledPolicy]:
    """The shared drift rules' policies, compiled with the drift config's parameters."""
    from detectors.drift.loader import load_policy_file

    folders = {f.name: f for f in family_folders("drift")}
    out: dict[str, CompiledPolicy] = {}
    for rule_id in SHARED_DRIFT_RULES:
        folder = folders[rule_id]
        (compiled,) = load_policy_file(folder / f"{rule_id}.policy.json", parameters, rule=rule_id)
        out[rule_id] = compiled
    return out


def _mitre(meta: RuleMeta) -> dict[str, str]:
    m = meta.extra.get("mitre_attack")
    return {str(k): str(v) for k, v in m.items()} if isinstance(m, Mapping) else {}


def _finding(meta: RuleMeta, hit: Hit) -> Finding:
    op = hit.operation
    when = op.time.isoformat().replace("+00:00", "Z")
    ann = {
        "title": meta.title,
        "summary": f"{meta.title}: {hit.reason}",
        "reason": hit.reason,
        "risk": meta.risk,
        "remediation": meta.remediation,
        "operation": op.records[0].get("operationName", {}).get("value", op.operation)
        if isinstance(op.records[0].get("operationName"), Mapping)
        else op.operation,
        "operation_status": op.status,
        "changed_by": op.caller or "unknown",
        "caller_kind": op.caller_kind,
        "changed_at": when,
        "correlation_id": op.correlation_id,
        "source": "activity log",
    }
    if op.caller_ip:
        ann["caller_ip"] = op.caller_ip
    mitre = _mitre(meta)
    if mitre.get("technique"):
        ann["mitre_technique"] = f"{mitre['technique']} {mitre.get('name', '')}".strip()
    evidence = {
        "event_data_ids": list(op.event_data_ids),
        "operation_resource_id": op.resource_id,
        **dict(hit.evidence),
    }
    return Finding(
        detector=FAMILY,
        rule=meta.id,
        status=Status.FIRING,
        severity=meta.severity,
        resource=ResourceRef.from_id(hit.resource_id),
        observed_at=op.time,
        labels={"correlation_id": op.correlation_id, **dict(hit.labels)},
        annotations=ann,
        evidence=evidence,
    )


def detect(
    *,
    records: Iterable[Mapping[str, Any]],
    config: ActivityConfig,
    now: datetime,
    drift_parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Finding]:
    if not config.enabled:
        return []
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ops = [op for op in operations(records) if op.time <= now]
    if not ops:
        return []
    ctx = Context(config=config, now=now, policies=shared_policies(drift_parameters))
    findings = []
    for meta, check in _checks():
        findings += [_finding(meta, hit) for hit in check(ops, ctx)]
    findings.sort(key=lambda f: (f.observed_at, f.rule, f.resource.id))
    return findings
