"""keyvault_access_opened: access policies granted on a vault (``accessPolicies/write`` with operation
kind ``add`` or ``replace``, not ``remove``), or a vault written with network rules defaulting to
``Allow`` while public network access is on (judged by the drift rule ``keyvault_public_network_access``'s
policy on the vault the operation wrote)."""

from __future__ import annotations

from collections.abc import Mapping

from detectors.activity.common import Context, Hit, per_operation, written_resource
from detectors.activity.record import Operation

__all__ = ["check", "judge"]

POLICIES_OP = "microsoft.keyvault/vaults/accesspolicies/write"
VAULT_OP = "microsoft.keyvault/vaults/write"
POLICY = "keyvault_public_network_access"


def _vault_of(resource_id: str) -> str:
    low = resource_id.lower()
    idx = low.find("/accesspolicies")
    return resource_id[:idx] if idx >= 0 else resource_id


def judge(op: Operation, ctx: Context) -> Hit | None:
    if not op.succeeded_or_pending:
        return None
    if op.operation == POLICIES_OP:
        kind = op.resource_id.rstrip("/").rsplit("/", 1)[-1].lower()
        if kind == "remove":
            return None
        granted = op.body_props().get("accesspolicies")
        principals = sorted(
            str(p.get("objectid")) for p in granted or [] if isinstance(p, Mapping) and p.get("objectid")
        )
        who = ", ".join(principals) or "?"
        return Hit(
            _vault_of(op.resource_id),
            f"access policies {kind if kind in ('add', 'replace') else 'written'} for {who}",
            op,
            {"operation_kind": kind, "principals": principals},
        )
    if op.operation == VAULT_OP:
        props = op.body_props()
        acls = props.get("networkacls")
        default = str(acls.get("defaultaction") or "") if isinstance(acls, Mapping) else ""
        if default.lower() != "allow":
            return None
        vault = written_resource(op, "Microsoft.KeyVault/vaults", op.resource_id, props)
        verdict = ctx.policy(POLICY).evaluate(vault)
        if verdict.compliant is not False:
            return None
        return Hit(
            op.resource_id,
            "network rules default to Allow with public network access on",
            op,
            {"default_action": default, "policy_verdict": verdict.to_dict()},
        )
    return None


check = per_operation(judge)
