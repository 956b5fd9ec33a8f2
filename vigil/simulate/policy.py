"""Azure Policy documents of the simulated tenant (``policy/``): the organisation's own assignments.

``SECURE_TRANSFER`` is the real built-in "Secure transfer to storage accounts should be enabled"
(``404c3081-a854-4457-ae30-26a93ef643f9``, version 2.0.0), verbatim from Azure/azure-policy
(MIT licence, see ../shared/azure-policy/LICENSE.azure-policy.txt), as
``az policy definition show`` prints it: ARM serves built-ins at the tenant root, so the
simulated tenant ships it beside the assignment that uses it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SECURE_TRANSFER", "SECURE_TRANSFER_ID", "policy_assignment", "policy_exemption"]

SECURE_TRANSFER_ID = "/providers/Microsoft.Authorization/policyDefinitions/404c3081-a854-4457-ae30-26a93ef643f9"

SECURE_TRANSFER: dict[str, Any] = {
    "properties": {
        "displayName": "Secure transfer to storage accounts should be enabled",
        "policyType": "BuiltIn",
        "mode": "Indexed",
        "description": "Audit requirement of Secure transfer in your storage account. "
        "Secure transfer is an option that forces your storage account to "
        "accept requests only from secure connections (HTTPS). Use of HTTPS "
        "ensures authentication between the server and the service and "
        "protects data in transit from network layer attacks such as "
        "man-in-the-middle, eavesdropping, and session-hijacking",
        "metadata": {"version": "2.0.0", "category": "Storage"},
        "version": "2.0.0",
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
                    {
                        "anyOf": [
                            {
                                "allOf": [
                                    {"value": "[requestContext().apiVersion]", "less": "2019-04-01"},
                                    {
                                        "field": "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly",
                                        "exists": "false",
                                    },
                                ]
                            },
                            {"field": "Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly", "equals": "false"},
                        ]
                    },
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
        "versions": ["2.0.0"],
    },
    "id": "/providers/Microsoft.Authorization/policyDefinitions/404c3081-a854-4457-ae30-26a93ef643f9",
    "name": "404c3081-a854-4457-ae30-26a93ef643f9",
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
