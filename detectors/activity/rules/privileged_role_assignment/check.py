"""privileged_role_assignment: a role assignment written with a privileged role at subscription or
management-group scope (judged by the drift rule ``rbac_privileged_assignment``'s policy, on the
assignment the operation wrote), or to a guest or external principal (any role, any scope).

The assignment comes from the operation's response (``properties.responseBody``) or request
(``properties.requestbody``: ``{"Id", "Properties": {"PrincipalId", "PrincipalType", "RoleDefinitionId",
"Scope"}}``); a guest is a principal listed in ``guest_principal_ids``, a ``ForeignGroup``, or a name
holding ``#EXT#`` (the UPN form of B2B guests).
"""

from __future__ import annotations

import json

from detectors.activity.common import Context, Hit, per_operation, written_resource
from detectors.activity.record import Operation

__all__ = ["OPERATION", "POLICY", "check", "judge"]

OPERATION = "microsoft.authorization/roleassignments/write"
POLICY = "rbac_privileged_assignment"
# Built-in role names, for the message (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
ROLE_NAMES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
}


def _scope(op: Operation, props: dict[str, object]) -> str:
    scope = props.get("scope")
    if isinstance(scope, str) and scope:
        return scope
    idx = op.resource_id.lower().rfind("/providers/microsoft.authorization/roleassignments/")
    return op.resource_id[:idx] if idx >= 0 else ""


def judge(op: Operation, ctx: Context) -> Hit | None:
    if op.operation != OPERATION or not op.succeeded_or_pending:
        return None
    props = dict(op.body_props())
    role = str(props.get("roledefinitionid") or "")
    principal = str(props.get("principalid") or "")
    ptype = str(props.get("principaltype") or "")
    scope = _scope(op, props)
    assignment = written_resource(
        op,
        "Microsoft.Authorization/roleAssignments",
        op.resource_id,
        {"roleDefinitionId": role, "scope": scope, "principalId": principal, "principalType": ptype},
    )
    verdict = ctx.policy(POLICY).evaluate(assignment)
    guests = {g.lower() for g in ctx.config.guest_principal_ids}
    guest = (
        principal.lower() in guests or ptype.lower() == "foreigngroup" or "#ext#" in json.dumps(op.body or {}).lower()
    )
    privileged = verdict.compliant is False
    if not (privileged or guest):
        return None
    role_id = role.rsplit("/", 1)[-1]
    role_name = ROLE_NAMES.get(role_id.lower(), role_id)
    why = []
    if privileged:
        why.append(f"{role_name} at scope {scope}")
    if guest:
        why.append(f"granted to guest/external principal {principal or '?'}")
    return Hit(
        op.resource_id,
        "; ".join(why),
        op,
        {
            "role_definition_id": role,
            "role": role_name,
            "scope": scope,
            "principal_id": principal,
            "principal_type": ptype,
            "guest": guest,
            "policy_verdict": verdict.to_dict(),
        },
    )


check = per_operation(judge)
