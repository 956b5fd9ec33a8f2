"""diagnostic_settings_deleted: a diagnostic setting deleted (not failed); the finding is about the
resource that lost it (the setting's parent: a resource, or a subscription for the activity log's own export)."""

from __future__ import annotations

from detectors.activity.common import Context, Hit, per_operation
from detectors.activity.record import Operation, parent_of_extension

__all__ = ["OPERATION", "check", "judge"]

OPERATION = "microsoft.insights/diagnosticsettings/delete"


def judge(op: Operation, ctx: Context) -> Hit | None:
    if op.operation != OPERATION or not op.succeeded_or_pending:
        return None
    parent = parent_of_extension(op.resource_id)
    name = op.resource_id.rsplit("/", 1)[-1]
    return Hit(parent, f"diagnostic setting {name!r} deleted", op, {"setting_id": op.resource_id})


check = per_operation(judge)
