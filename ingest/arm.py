"""Reading ARM resources: ARM GET by id (the event path) and Resource Graph (the sweep).

:class:`ArmReader` implements the drift path's reader protocol with
``azure-mgmt-resource`` (``ResourceManagementClient.resources.get_by_id``). The
api-version is chosen per resource type: a built-in table for the rule-pack
types, otherwise the newest stable version the provider registers
(``providers.get``), cached per type. HTTP 404 returns None (deleted).
``related`` lists extension resources such as diagnostic settings.

:func:`resource_graph_sweep` pages through a Resource Graph query
(``azure-mgmt-resourcegraph``) across subscriptions and management groups,
following ``$skipToken``.

Azure SDK imports are lazy: importing this module stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from core.model import resource_type
from ingest.nextlink import ForeignNextLinkError, checked_next_link

__all__ = [
    "DEFAULT_API_VERSIONS",
    "ArmReader",
    "ReadForbiddenError",
    "resource_graph_query",
    "resource_graph_sweep",
    "type_of",
]

logger = logging.getLogger(__name__)

type_of = resource_type  # the type of a resource id (one implementation: core.model.resource_type)

#: api-versions for the rule-pack types (lower-case type -> version).
DEFAULT_API_VERSIONS: dict[str, str] = {
    "microsoft.machinelearningservices/workspaces": "2024-10-01",
    "microsoft.machinelearningservices/workspaces/computes": "2024-10-01",
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.keyvault/vaults": "2023-07-01",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.network/networksecuritygroups": "2023-11-01",
    "microsoft.authorization/roleassignments": "2022-04-01",
    "microsoft.insights/diagnosticsettings": "2021-05-01-preview",
}


PROVIDERS_API_VERSION = "2021-04-01"  # also resource groups
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def _subscription_of(resource_id: str) -> str:
    parts = [p for p in resource_id.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return ""


class ReadForbiddenError(PermissionError):
    """The identity may not read the resource (HTTP 403): retrying will not help."""


def _newest(versions: Iterable[str]) -> str | None:
    vs = sorted(versions, reverse=True)
    stable = [v for v in vs if "preview" not in v.lower()]
    chosen = stable or vs
    return chosen[0] if chosen else None


class ArmReader:
    """ARM GET by id with per-type api-versions (implements the drift reader protocol), over
    the one ARM client (:class:`core.arm.ArmSession`)."""

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str = "",
        *,
        client: Any = None,
        api_versions: Mapping[str, str] | None = None,
        **client_kwargs: Any,
    ) -> None:
        from core.arm import ArmSession

        # Requests name full ids: the subscription only matters for provider lookups, and
        # those use the subscription of the resource being read (else this one).
        self.session = ArmSession(credential, subscription_id, client=client, **client_kwargs)
        self.subscription_id = subscription_id
        self._versions: dict[str, str] = dict(DEFAULT_API_VERSIONS)
        self._versions.update({k.lower(): v for k, v in (api_versions or {}).items()})
        self._provider_cache: dict[str, dict[str, list[str]]] = {}
        self._scopes: dict[str, dict[str, Any] | None] = {}
        self.gets = 0

    def api_version_for(self, resource_type: str, resource_id: str = "") -> str:
        """The api-version for a type: the built-in table, else the provider's newest stable one (cached).

        The provider is looked up in the subscription of ``resource_id`` (or the reader's).
        """
        rtype = resource_type.lower()
        cached = self._versions.get(rtype)
        if cached:
            return cached
        namespace, _, rest = rtype.partition("/")
        types = self._provider_cache.get(namespace)
        if types is None:
            types = self._provider_types(namespace, _subscription_of(resource_id) or self.subscription_id)
            self._provider_cache[namespace] = types
        version = _newest(types.get(rest, []))
        if version is None:
            raise LookupError(f"provider {namespace} registers no api-version for type {rest!r}")
        self._versions[rtype] = version
        return version

    def _provider_types(self, namespace: str, subscription_id: str) -> dict[str, list[str]]:
        from core.arm import NO_SUBSCRIPTION, raise_for_status

        url = f"/subscriptions/{subscription_id or NO_SUBSCRIPTION}/providers/{namespace}"
        resp = self.session.send("GET", url, params={"api-version": PROVIDERS_API_VERSION})
        raise_for_status(resp)
        doc = resp.json()
        return {
            str(rt.get("resourceType", "")).lower(): [str(v) for v in rt.get("apiVersions") or []]
            for rt in doc.get("resourceTypes") or []
            if isinstance(rt, dict)
        }

    def get(self, resource_id: str) -> dict[str, Any] | None:
        """The resource JSON; None on HTTP 404; :class:`ReadForbiddenError` on HTTP 403."""
        from core.arm import raise_for_status

        api = self.api_version_for(type_of(resource_id), resource_id)
        self.gets += 1
        resp = self.session.send("GET", resource_id, params={"api-version": api})
        if resp.status_code == 404:
            return None
        if resp.status_code == 403:
            raise ReadForbiddenError(f"{resource_id}: read forbidden (HTTP 403): {resp.text()[:300]}")
        raise_for_status(resp)
        body = resp.json()
        return body if isinstance(body, dict) else None

    def related(self, resource_id: str, resource_type: str) -> list[dict[str, Any]] | None:
        """Related resources of ``resource_type`` under ``resource_id``.

        A child type of the resource's own type (``Microsoft.Sql/servers/auditingSettings`` under a
        server) is listed at ``<id>/auditingSettings``; any other type is an extension (diagnostic
        settings) or a type listed in a resource group or subscription: ``<id>/providers/<type>``.
        """
        api = self.api_version_for(resource_type, resource_id)
        own = type_of(resource_id)
        if own and resource_type.lower().startswith(own + "/") and "/providers/" in resource_id.lower():
            url = f"{resource_id.rstrip('/')}/{resource_type[len(own) + 1 :]}"
        else:
            url = f"{resource_id.rstrip('/')}/providers/{resource_type}"
        out: list[dict[str, Any]] = []
        next_url: str | None = url
        params: dict[str, str] | None = {"api-version": api}
        first_url = ""
        while next_url:
            resp = self.session.send("GET", next_url, params=params)
            first_url = first_url or str(resp.request.url)
            if resp.status_code == 404:
                return []
            if resp.status_code >= 400:
                logger.warning(
                    "cannot list %s under %s", resource_type, resource_id, extra={"status": resp.status_code}
                )
                return None
            doc = resp.json()
            out.extend(x for x in doc.get("value", []) if isinstance(x, dict))
            next_url, params = doc.get("nextLink"), None
            if next_url:
                try:
                    next_url = checked_next_link(str(next_url), first_url)
                except ForeignNextLinkError as exc:  # the list is incomplete: unknown, not empty
                    logger.warning("cannot list %s under %s: %s", resource_type, resource_id, exc)
                    return None
        return out

    def scope_object(self, scope_id: str) -> dict[str, Any] | None:
        """The subscription or resource group object (``subscription()``/``resourceGroup()`` in a
        policy rule: tags, location, managedBy...), read once per reader; None when unreadable."""
        from azure.core.exceptions import HttpResponseError

        key = scope_id.lower().rstrip("/")
        if key in self._scopes:
            return self._scopes[key]
        parts = [p for p in key.split("/") if p]
        if len(parts) == 2 and parts[0] == "subscriptions":
            api = SUBSCRIPTIONS_API_VERSION
        elif len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
            api = PROVIDERS_API_VERSION
        else:
            return None
        resp = self.session.send("GET", scope_id, params={"api-version": api})
        found: dict[str, Any] | None = None
        try:
            resp.raise_for_status()
            body = resp.json()
            found = body if isinstance(body, dict) else None
        except HttpResponseError:
            logger.warning("cannot read scope %s", scope_id, extra={"status": resp.status_code})
        self._scopes[key] = found
        return found

    def close(self) -> None:
        self.session.close()


def resource_graph_query(types: Iterable[str]) -> dict[str, str]:
    """Resource Graph queries (by table) for the given resource types."""
    lower = sorted({t.lower() for t in types})
    auth = [t for t in lower if t.startswith("microsoft.authorization/")]
    res = [t for t in lower if t not in auth]
    cols = "id, name, type, location, kind, tags, identity, sku, properties"
    out = {}
    if res:
        quoted = ", ".join(f"'{t}'" for t in res)
        out["resources"] = f"resources | where type in~ ({quoted}) | project {cols} | order by id asc"
    if auth:
        quoted = ", ".join(f"'{t}'" for t in auth)
        out["authorizationresources"] = (
            f"authorizationresources | where type in~ ({quoted}) | project id, name, type, properties | order by id asc"
        )
    return out


def resource_graph_sweep(
    credential: Any = None,
    *,
    query: str,
    subscriptions: Iterable[str] = (),
    management_groups: Iterable[str] = (),
    page_size: int = 1000,
    client: Any = None,
    **client_kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Yield every row of a Resource Graph query, following ``$skipToken`` pages."""
    from azure.mgmt.resourcegraph import ResourceGraphClient
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    if client is None:
        client = ResourceGraphClient(credential, **client_kwargs)
    subs = list(subscriptions) or None
    mgs = list(management_groups) or None
    token: str | None = None
    pages = 0
    while True:
        request = QueryRequest(
            query=query,
            subscriptions=subs,
            management_groups=mgs,
            options=QueryRequestOptions(top=page_size, skip_token=token, result_format="objectArray"),
        )
        response = client.resources(request)
        pages += 1
        rows = response.data or []
        for row in rows:
            if isinstance(row, dict):
                yield row
        token = response.skip_token
        if not token:
            break
    logger.info("resource graph sweep read %d page(s)", pages, extra={"pages": pages})
