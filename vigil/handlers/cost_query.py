"""The Cost Management Query API as the cost source of a scope without exports.

:func:`run_cost_query` asks ``POST {scope}/providers/Microsoft.CostManagement/query`` for each configured
subscription (``ingest.cost.query_api``: whole months of daily cost by resource group and service, paged
with ``nextLink``, waiting out 429s as the ``x-ms-ratelimit-microsoft.costmanagement-*-retry-after``
headers say), stores the months like an export run in the costs container and puts one detect message
per scope on the detect queue, which :func:`vigil.handlers.handle_detect` runs as after an export run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import COSTS_CONTAINER, DETECT_QUEUE, cost_history, setting
from vigil.handlers.sources import NO_LIVE, live_sources

if TYPE_CHECKING:
    from vigil.runtime import Runtime

__all__ = ["run_cost_query"]

log = logging.getLogger(__name__)


def run_cost_query(rt: Runtime, now: datetime) -> dict[str, Any]:
    """Daily costs of every subscription in ``scopes`` from the Query API -> the costs container -> detect
    (with ``sources.cost_query_api``: the Function App's ``cost_query`` timer, and ``vigil run`` without an
    export container).

    A scope that fails (no Cost Management Reader role, still throttled) is named in ``failed``; the
    others are stored and detected. Idempotent: a month is replaced by its latest query."""
    if not rt.config.sources.cost_query_api:
        return {"skipped": "sources.cost_query_api is off (costs come from exports)"}
    azure = live_sources(rt).azure
    if azure is None:
        return {"skipped": NO_LIVE.format(what="Cost Management")}
    from ingest.cost.query_api import cost_client, ingest_query

    client = cost_client(azure.credential, **azure.azure_client_kwargs)
    dest = rt.blobs(setting(rt, COSTS_CONTAINER))
    history = cost_history(rt.config.detectors.overspend)
    out: dict[str, Any] = {"scopes": 0, "pages": 0, "rows": 0, "failed": []}
    for sub in rt.config.scopes.subscriptions:
        scope = f"/subscriptions/{sub}"
        try:
            res = ingest_query(client, scope, (now - history).date(), now.date(), dest, now=now)
        except Exception as exc:  # azure.core's HttpResponseError, QueryThrottledError, a bad answer
            log.warning("cost query failed: %s", exc, extra={"scope": scope})
            out["failed"].append(f"{scope}: {type(exc).__name__}: {exc}")
            continue
        out["scopes"] += 1
        out["pages"] += int(res.get("pages", 0))
        out["rows"] += int(res.get("rows", 0))
        days = sorted({d for p in res.get("partitions", ()) for d in p.get("days", ())})
        if days:
            rt.enqueue(
                setting(rt, DETECT_QUEUE),
                {"type": "cost-run", "run_id": res.get("run_id"), "days": days, "scope": sub},
            )
    return out
