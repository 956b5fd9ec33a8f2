"""ml_workspace_public_access_enabled: an Azure ML workspace written with ``publicNetworkAccess`` set and not
``Disabled``, judged by the drift rule ``ml_workspace_public_network_access``'s policy on the workspace the
operation wrote. A write that does not set the field (a PATCH of other properties) says nothing about it."""

from __future__ import annotations

from detectors.activity.common import Context, Hit, per_operation, written_resource
from detectors.activity.record import Operation

__all__ = ["OPERATION", "check", "judge"]

OPERATION = "microsoft.machinelearningservices/workspaces/write"
POLICY = "ml_workspace_public_network_access"


def judge(op: Operation, ctx: Context) -> Hit | None:
    if op.operation != OPERATION or not op.succeeded_or_pending:
        return None
    props = op.body_props()
    if not props.get("publicnetworkaccess"):
        return None
    ws = written_resource(op, "Microsoft.MachineLearningServices/workspaces", op.resource_id, props)
    verdict = ctx.policy(POLICY).evaluate(ws)
    if verdict.compliant is not False:
        return None
    return Hit(
        op.resource_id,
        f"publicNetworkAccess set to {props['publicnetworkaccess']}",
        op,
        {"public_network_access": props["publicnetworkaccess"], "policy_verdict": verdict.to_dict()},
    )


check = per_operation(judge)
