"""Azure Policy documents of the simulated tenant (``policy/``): the organisation's own assignments.

``RESTRICT_NETWORK`` is the real built-in "Storage accounts should restrict network access"
(``34c877ad-507e-4c82-993e-3452a6e0ad3c``, version 1.1.1; not in Vigil's rule pack), verbatim from Azure/azure-policy
(MIT licence, see ../shared/azure-policy/LICENSE.azure-policy.txt), as
``az policy definition show`` prints it: ARM serves built-ins at the tenant root, so the
simulated tenant ships it beside the assignment that uses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.model import Res, Sub, dump, iso

__all__ = ["RESTRICT_NETWORK", "RESTRICT_NETWORK_ID", "policy_assignment", "policy_exemption", "write_policy"]

RESTRICT_NETWORK_ID = "/providers/Microsoft.Authorization/policyDefinitions/34c877ad-507e-4c82-993e-3452a6e0ad3c"

RESTRICT_NETWORK: dict[str, Any] = {
    "properties": {
        "displayName": "Storage accounts should restrict network access",
        "policyType": "BuiltIn",
        "mode": "Indexed",
        "description": "Network access to storage accounts should be restricted. Configure "
        "network rules so only applications from allowed networks can "
        "access the storage account. To allow connections from specific "
        "internet or on-premises clients, access can be granted to traffic "
        "from specific Azure virtual networks or to public internet IP "
        "address ranges",
        "metadata": {"version": "1.1.1", "category": "Storage"},
        "version": "1.1.1",
        "parameters": {
            "effect": {
                "type": "string",
                "defaultValue": "Audit",
                "allowedValues": ["Audit", "Deny", "Disabled"],
                "metadata": {
                    "displayName": "Effect",
                    "description": "The effect determines what happens when the policy rule is evaluated to match",
                },
            }
        },
        "policyRule": {
            "if": {
                "allOf": [
                    {"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                    {"field": "Microsoft.Storage/storageAccounts/networkAcls.defaultAction", "notEquals": "Deny"},
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
        "versions": ["1.1.1"],
    },
    "id": "/providers/Microsoft.Authorization/policyDefinitions/34c877ad-507e-4c82-993e-3452a6e0ad3c",
    "name": "34c877ad-507e-4c82-993e-3452a6e0ad3c",
}


def policy_assignment(scope: str, name: str, definition_id: str, **properties: Any) -> dict[str, Any]:
    """A ``Microsoft.Authorization/policyAssignments`` document as ARM returns it."""
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policyAssignments",
        "properties": {
            "policyDefinitionId": definition_id,
            "scope": scope,
            "enforcementMode": "Default",
            "notScopes": [],
            **properties,
        },
    }


def policy_exemption(
    scope: str, name: str, assignment_id: str, category: str, expires_on: str | None = None
) -> dict[str, Any]:
    """A ``Microsoft.Authorization/policyExemptions`` document as ARM returns it."""
    props: dict[str, Any] = {"policyAssignmentId": assignment_id, "exemptionCategory": category}
    if expires_on:
        props["expiresOn"] = expires_on
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/policyExemptions/{name}",
        "name": name,
        "type": "Microsoft.Authorization/policyExemptions",
        "properties": props,
    }


def write_policy(root: Path, prod: Sub, res: list[Res], now: datetime) -> dict[str, str]:
    """The organisation's assignment of ``RESTRICT_NETWORK`` on the production subscription.

    Every simulated storage account denies public network access by default, except three in
    production: ``rg-web-prod``'s (the planted finding; its write is among the events), one in
    ``rg-api-prod`` (the assignment's ``notScopes``) and one in ``rg-batch-prod`` (a ``Waiver``
    exemption that expires in 90 days). Returns the planted ids.
    """
    scope = f"/subscriptions/{prod.id}"
    open_to = {"rg-web-prod": "planted", "rg-api-prod": "not_scope", "rg-batch-prod": "exempt"}
    found: dict[str, Res] = {}
    for r in res:
        if r.type == "Microsoft.Storage/storageAccounts" and r.sub is prod and r.rg in open_to:
            r.arm["properties"]["networkAcls"]["defaultAction"] = "Allow"
            found[open_to[r.rg]] = r
    assignment = policy_assignment(
        scope,
        "restrict-storage-network",
        RESTRICT_NETWORK_ID,
        displayName="Production storage accounts restrict network access",
        description="Security baseline SEC-7: storage is reachable from approved networks only.",
        notScopes=[f"{scope}/resourceGroups/rg-api-prod"],
        nonComplianceMessages=[
            {"message": "Set the storage firewall's default action to Deny and allow only approved networks (SEC-7)."}
        ],
    )
    exemption = policy_exemption(
        f"{scope}/resourceGroups/rg-batch-prod",
        "batch-ingest-waiver",
        assignment["id"],
        "Waiver",
        iso(now + timedelta(days=90)),
    )
    dump(root / "policy" / "definitions.json", [RESTRICT_NETWORK])
    dump(root / "policy" / "assignments.json", {"value": [assignment]})
    dump(root / "policy" / "exemptions.json", {"value": [exemption]})
    return {"org_policy_storage": found["planted"].id}
