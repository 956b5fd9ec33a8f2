"""Azure Policy's alias catalogue, read live from ARM.

``read_alias_catalogue`` lists every resource provider with its aliases through the
Resource Management SDK (``ResourceManagementClient.providers.list(expand=
"resourceTypes/aliases")``, i.e. ``GET /subscriptions/{id}/providers?$expand=
resourceTypes/aliases``) and returns ``{resource type: {alias: default path}}``: the
same data the shipped snapshot is built from. ``vigil drift aliases refresh`` writes it
in the snapshot format (``detectors.drift.aliases.write_snapshot``) for the drift engine.

An alias without a ``defaultPath`` takes the path listed for its newest API version.
Azure SDK imports are lazy: importing this module stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["read_alias_catalogue"]

logger = logging.getLogger(__name__)


def _path_of(alias: Any) -> str | None:
    if getattr(alias, "default_path", None):
        return str(alias.default_path)
    best: tuple[str, str] | None = None
    for p in getattr(alias, "paths", None) or []:
        newest = max((str(v) for v in p.api_versions or []), default="")
        if p.path and (best is None or newest > best[0]):
            best = (newest, str(p.path))
    return best[1] if best else None


def read_alias_catalogue(credential: Any, subscription_id: str, **client_kwargs: Any) -> dict[str, dict[str, str]]:
    """``{resource type: {alias name: default path}}`` for every provider ARM lists."""
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(credential, subscription_id, **client_kwargs)
    types: dict[str, dict[str, str]] = {}
    try:
        for provider in client.providers.list(expand="resourceTypes/aliases"):
            namespace = str(provider.namespace or "")
            for rt in provider.resource_types or []:
                rtype = f"{namespace}/{rt.resource_type}"
                for alias in rt.aliases or []:
                    path = _path_of(alias)
                    if alias.name and path:
                        types.setdefault(rtype, {})[str(alias.name)] = path
    finally:
        client.close()
    logger.info(
        "read the alias catalogue",
        extra={"types": len(types), "aliases": sum(len(v) for v in types.values())},
    )
    return types
