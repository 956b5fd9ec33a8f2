"""Remediation actions: what each one changes, how to tell it is already done,
and the exact ARM permissions it needs.

Every action is idempotent by construction: the executor reads the current
state first and calls the action only when ``is_done(state)`` is false.
The union of ``permissions`` is the remediation custom role in ``infra/``
(``infra/remediation-permissions.json``; a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ACTIONS", "Action", "action", "all_permissions"]

Method = Literal["POST", "PATCH", "TAGS"]


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        # ARM property names are case-insensitive.
        match = next((k for k in cur if k.lower() == key.lower()), None)
        if match is None:
            return None
        cur = cur[match]
    return cur


def _vm_deallocated(state: Mapping[str, Any]) -> bool:
    statuses = _get(state, "properties", "instanceView", "statuses") or _get(state, "statuses") or []
    codes = {str(s.get("code", "")).lower() for s in statuses if isinstance(s, Mapping)}
    return "powerstate/deallocated" in codes


def _ci_stopped(state: Mapping[str, Any]) -> bool:
    return str(_get(state, "properties", "properties", "state") or "").lower() in ("stopped", "stopping")


def _cluster_min_zero(state: Mapping[str, Any]) -> bool:
    value = _get(state, "properties", "properties", "scaleSettings", "minNodeCount")
    return value is not None and int(value) == 0


def _ws_private(state: Mapping[str, Any]) -> bool:
    return str(_get(state, "properties", "publicNetworkAccess") or "").lower() == "disabled"


def _blob_private(state: Mapping[str, Any]) -> bool:
    return _get(state, "properties", "allowBlobPublicAccess") is False


def _cluster_body(state: Mapping[str, Any]) -> dict[str, Any]:
    max_nodes = _get(state, "properties", "properties", "scaleSettings", "maxNodeCount")
    scale: dict[str, Any] = {"minNodeCount": 0}
    if max_nodes is not None:
        scale["maxNodeCount"] = int(max_nodes)
    return {"properties": {"properties": {"scaleSettings": scale}}}


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    title: str
    resource_type: str  # lower case ARM type the action applies to ("*" for any)
    method: Method
    api_version: str
    permissions: tuple[str, ...]
    is_done: Callable[[Mapping[str, Any]], bool]
    path_suffix: str = ""  # for POST actions, e.g. "/deallocate"
    body: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    state_suffix: str = ""  # read the state from id + suffix (e.g. "/instanceView")
    compute_kind: str = ""  # for Azure ML computes: ComputeInstance or AmlCompute

    def applies_to(self, resource_type: str, state: Mapping[str, Any] | None = None) -> bool:
        if self.resource_type != "*" and resource_type.lower() != self.resource_type:
            return False
        if self.compute_kind and state is not None:
            kind = str(_get(state, "properties", "computeType") or "")
            # Unknown compute type (no state at hand): the executor checks it against fresh state.
            return not kind or kind.lower() == self.compute_kind.lower()
        return True


TAG_KEY = "vigil:flagged"


def _tag_done(state: Mapping[str, Any]) -> bool:
    tags = _get(state, "properties", "tags") or _get(state, "tags") or {}
    return isinstance(tags, Mapping) and str(tags.get(TAG_KEY, "")).lower() == "true"


ACTIONS: tuple[Action, ...] = (
    Action(
        id="deallocate_vm",
        title="Deallocate the virtual machine",
        resource_type="microsoft.compute/virtualmachines",
        method="POST",
        api_version="2024-07-01",
        permissions=(
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Compute/virtualMachines/deallocate/action",
        ),
        is_done=_vm_deallocated,
        path_suffix="/deallocate",
        state_suffix="/instanceView",
    ),
    Action(
        id="stop_ml_compute_instance",
        title="Stop the Azure ML compute instance",
        resource_type="microsoft.machinelearningservices/workspaces/computes",
        method="POST",
        api_version="2024-04-01",
        permissions=(
            "Microsoft.MachineLearningServices/workspaces/computes/read",
            "Microsoft.MachineLearningServices/workspaces/computes/stop/action",
        ),
        is_done=_ci_stopped,
        path_suffix="/stop",
        compute_kind="ComputeInstance",
    ),
    Action(
        id="scale_ml_cluster_to_zero",
        title="Set the Azure ML compute cluster's minimum node count to 0",
        resource_type="microsoft.machinelearningservices/workspaces/computes",
        method="PATCH",
        api_version="2024-04-01",
        permissions=(
            "Microsoft.MachineLearningServices/workspaces/computes/read",
            "Microsoft.MachineLearningServices/workspaces/computes/write",
        ),
        is_done=_cluster_min_zero,
        body=_cluster_body,
        compute_kind="AmlCompute",
    ),
    Action(
        id="disable_ml_workspace_public_access",
        title="Set the Azure ML workspace's publicNetworkAccess to Disabled",
        resource_type="microsoft.machinelearningservices/workspaces",
        method="PATCH",
        api_version="2024-04-01",
        permissions=(
            "Microsoft.MachineLearningServices/workspaces/read",
            "Microsoft.MachineLearningServices/workspaces/write",
        ),
        is_done=_ws_private,
        body=lambda _s: {"properties": {"publicNetworkAccess": "Disabled"}},
    ),
    Action(
        id="disable_storage_blob_public_access",
        title="Set the storage account's allowBlobPublicAccess to false",
        resource_type="microsoft.storage/storageaccounts",
        method="PATCH",
        api_version="2023-05-01",
        permissions=(
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Storage/storageAccounts/write",
        ),
        is_done=_blob_private,
        body=lambda _s: {"properties": {"allowBlobPublicAccess": False}},
    ),
    Action(
        id="tag_flagged",
        title=f"Tag the resource {TAG_KEY}=true",
        resource_type="*",
        method="TAGS",
        api_version="2021-04-01",
        permissions=(
            "Microsoft.Resources/tags/read",
            "Microsoft.Resources/tags/write",
        ),
        is_done=_tag_done,
        body=lambda _s: {"operation": "Merge", "properties": {"tags": {TAG_KEY: "true"}}},
        state_suffix="/providers/Microsoft.Resources/tags/default",
    ),
)


def action(action_id: str) -> Action:
    for a in ACTIONS:
        if a.id == action_id:
            return a
    raise KeyError(f"unknown remediation action {action_id!r}; known: {', '.join(a.id for a in ACTIONS)}")


def all_permissions() -> list[str]:
    """The union of every action's permissions: the remediation custom role."""
    return sorted({p for a in ACTIONS for p in a.permissions}, key=str.lower)
