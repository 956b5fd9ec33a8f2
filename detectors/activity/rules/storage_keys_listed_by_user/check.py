"""storage_keys_listed_by_user: a storage account's keys listed or regenerated (succeeded) by a user;
a managed identity or an app (service principal) doing it is a workload and does not fire."""

from __future__ import annotations

from detectors.activity.common import Context, Hit, per_operation
from detectors.activity.record import Operation

__all__ = ["OPERATIONS", "check", "judge"]

OPERATIONS = {
    "microsoft.storage/storageaccounts/listkeys/action": "listed",
    "microsoft.storage/storageaccounts/regeneratekey/action": "regenerated",
}


def judge(op: Operation, ctx: Context) -> Hit | None:
    verb = OPERATIONS.get(op.operation)
    if verb is None or op.status != "Succeeded" or op.caller_kind != "user":
        return None
    account = op.resource_id
    low = account.lower()
    for tail in ("/listkeys", "/regeneratekey"):
        if low.endswith(tail):
            account = account[: -len(tail)]
    return Hit(account, f"account keys {verb} by user {op.caller}", op, {"caller_kind": op.caller_kind})


check = per_operation(judge)
