"""policy_assignment_deleted: a policy assignment or exemption deleted (not failed)."""

from __future__ import annotations

from detectors.activity.common import Context, Hit, per_operation
from detectors.activity.record import Operation

__all__ = ["OPERATIONS", "check", "judge"]

OPERATIONS = {
    "microsoft.authorization/policyassignments/delete": "policy assignment",
    "microsoft.authorization/policyexemptions/delete": "policy exemption",
}


def judge(op: Operation, ctx: Context) -> Hit | None:
    kind = OPERATIONS.get(op.operation)
    if kind is None or not op.succeeded_or_pending:
        return None
    return Hit(op.resource_id, f"{kind} {op.resource_id.rsplit('/', 1)[-1]} deleted", op, {"kind": kind})


check = per_operation(judge)
