"""nsg_management_port_opened: an NSG rule (``securityRules/write``) or an NSG written with its rules
(``networkSecurityGroups/write``) that allows Internet traffic in to a management port, judged by the
drift rule ``nsg_management_ports_open``'s policy (its ports and Internet prefixes) on the NSG the
operation wrote."""

from __future__ import annotations

from typing import Any

from detectors.activity.common import Context, Hit, per_operation, written_resource
from detectors.activity.record import Operation

__all__ = ["check", "judge"]

RULE_OP = "microsoft.network/networksecuritygroups/securityrules/write"
NSG_OP = "microsoft.network/networksecuritygroups/write"
POLICY = "nsg_management_ports_open"
NSG_TYPE = "Microsoft.Network/networkSecurityGroups"


def judge(op: Operation, ctx: Context) -> Hit | None:
    if not op.succeeded_or_pending or op.body is None:
        return None
    if op.operation == RULE_OP:
        low = op.resource_id.lower()
        nsg_id = op.resource_id[: low.rfind("/securityrules/")] if "/securityrules/" in low else op.resource_id
        rule: dict[str, Any] = {"name": op.resource_id.rsplit("/", 1)[-1], "properties": dict(op.body_props())}
        nsg = written_resource(op, NSG_TYPE, nsg_id, {"securityRules": [rule]})
    elif op.operation == NSG_OP:
        nsg_id = op.resource_id
        nsg = written_resource(op, NSG_TYPE, nsg_id, op.body_props())
    else:
        return None
    verdict = ctx.policy(POLICY).evaluate(nsg)
    if verdict.compliant is not False:
        return None
    return Hit(
        nsg_id,
        f"{op.resource_id.rsplit('/', 1)[-1]}: inbound Allow from the Internet to a management port",
        op,
        {"policy_verdict": verdict.to_dict(), "violation": [held for held, _e, _a in verdict.evidence]},
    )


check = per_operation(judge)
