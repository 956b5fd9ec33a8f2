"""The Azure Policy assignments and exemptions that already exist, read from ARM.

``read_policy_documents`` lists a subscription's policy assignments and exemptions
(``GET /subscriptions/{id}/providers/Microsoft.Authorization/policyAssignments`` and
``.../policyExemptions``, following ``nextLink``) and fetches every definition and
initiative they refer to (and the members of those initiatives) by id, through the
Resource Management SDK's pipeline (auth, retries, throttling). The documents are the
ones ``az policy ... show`` prints; the drift detector compiles them
(``detectors.drift.assignments.PolicyDocuments``). Definitions already known to the
caller (by lower-case id) are not fetched again.

Azure SDK imports are lazy: importing this module stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["ASSIGNMENTS_API_VERSION", "EXEMPTIONS_API_VERSION", "read_policy_documents"]

logger = logging.getLogger(__name__)

ASSIGNMENTS_API_VERSION = "2023-04-01"  # policyAssignments, policyDefinitions, policySetDefinitions
EXEMPTIONS_API_VERSION = "2022-07-01-preview"


def _list(client: Any, url: str, api_version: str) -> list[dict[str, Any]]:
    from azure.core.rest import HttpRequest

    out: list[dict[str, Any]] = []
    next_url: str | None = url
    params: dict[str, str] | None = {"api-version": api_version}
    while next_url:
        resp = client.send_request(HttpRequest("GET", next_url, params=params))
        resp.raise_for_status()
        doc = resp.json()
        out.extend(x for x in doc.get("value", []) if isinstance(x, dict))
        next_url, params = doc.get("nextLink"), None
    return out


def _get(client: Any, resource_id: str) -> dict[str, Any] | None:
    from azure.core.rest import HttpRequest

    resp = client.send_request(HttpRequest("GET", resource_id, params={"api-version": ASSIGNMENTS_API_VERSION}))
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    body = resp.json()
    return body if isinstance(body, dict) else None


def read_policy_documents(
    credential: Any,
    subscription_id: str,
    *,
    known_definitions: Iterable[str] = (),
    client: Any = None,
    **client_kwargs: Any,
) -> list[dict[str, Any]]:
    """Assignments, exemptions and the definitions/initiatives they need, as ARM returns them."""
    own = client is None
    if client is None:
        from azure.mgmt.resource.resources import ResourceManagementClient

        client = ResourceManagementClient(credential, subscription_id, **client_kwargs)
    try:
        base = f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization"
        assignments = _list(client, f"{base}/policyAssignments", ASSIGNMENTS_API_VERSION)
        exemptions = _list(client, f"{base}/policyExemptions", EXEMPTIONS_API_VERSION)
        known = {k.lower() for k in known_definitions}
        fetched: list[dict[str, Any]] = []
        pending = [str(a.get("properties", {}).get("policyDefinitionId") or "") for a in assignments]
        missing: list[str] = []
        while pending:
            did = pending.pop()
            if not did or did.lower() in known:
                continue
            known.add(did.lower())
            doc = _get(client, did)
            if doc is None:
                missing.append(did)
                continue
            fetched.append(doc)
            members = doc.get("properties", {}).get("policyDefinitions") or []
            pending.extend(str(m.get("policyDefinitionId") or "") for m in members if isinstance(m, dict))
        if missing:
            logger.warning("policy definitions not found", extra={"definition_ids": missing})
    finally:
        if own:
            client.close()
    logger.info(
        "read policy assignments",
        extra={"assignments": len(assignments), "exemptions": len(exemptions), "definitions": len(fetched)},
    )
    return [*fetched, *assignments, *exemptions]
