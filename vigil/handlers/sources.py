"""Where the handlers read resources and metrics: :class:`LiveSources`.

A runtime whose ``VIGIL_TENANT_DIR`` setting names a tenant folder (docs/tenant-layout.md)
is served from that folder (the CLI, the demo and offline tests). Otherwise a runtime with
the Azure capabilities (:class:`vigil.runtime.AzureAccess`: the Function App's) is served
by ARM GET (``ingest.arm.ArmReader``), Azure Resource Graph and Azure Monitor
(``ingest.metrics``). A runtime with neither has no live source: the event path raises
(a retry may find a credential), the timers report what is missing and do nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import TENANT_DIR
from vigil.runtime import AzureAccess

if TYPE_CHECKING:
    from vigil.runtime import Runtime
    from vigil.tenant import TenantFolder

__all__ = ["IDLE_TYPES", "NO_LIVE", "LiveSources", "live_sources"]

log = logging.getLogger(__name__)

IDLE_TYPES = (
    "microsoft.compute/virtualmachines",
    "microsoft.compute/disks",
    "microsoft.network/publicipaddresses",
    "microsoft.machinelearningservices/workspaces",
    "microsoft.machinelearningservices/workspaces/computes",
)

NO_LIVE = f"no {{what}} source: this runtime has neither a tenant folder ({TENANT_DIR}) nor an Azure credential"


class LiveSources:
    """The tenant folder or Azure, chosen once per runtime, with the clients it reuses."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        folder = rt.setting(TENANT_DIR)
        self.tenant: TenantFolder | None = None
        if folder:
            from vigil.tenant import TenantFolder

            self.tenant = TenantFolder(folder)
        self.azure: AzureAccess | None = rt if self.tenant is None and isinstance(rt, AzureAccess) else None
        self._reader: Any = None

    @property
    def kind(self) -> str | None:
        """``"tenant"``, ``"azure"`` or None (no source)."""
        return "tenant" if self.tenant is not None else ("azure" if self.azure is not None else None)

    def resource_reader(self) -> Any:
        """Reads one resource by id (``get``): the tenant folder, else ARM GET; None without a source."""
        if self.tenant is not None:
            return self.tenant
        if self.azure is None:
            return None
        if self._reader is None:
            from ingest.arm import ArmReader

            self._reader = ArmReader(self.azure.credential, **self.azure.azure_client_kwargs)
        return self._reader

    def _graph_rows(self, azure: AzureAccess, types: Iterable[str]) -> list[Mapping[str, Any]]:
        """Resource Graph rows of these types over the config's scopes, one per resource id."""
        from ingest.arm import resource_graph_query, resource_graph_sweep

        scopes = self.rt.config.scopes
        rows: dict[str, Mapping[str, Any]] = {}  # by id: one row per resource across tables/pages
        for query in resource_graph_query(types).values():
            for row in resource_graph_sweep(
                azure.credential,
                query=query,
                subscriptions=scopes.subscriptions,
                management_groups=scopes.management_groups,
                **azure.azure_client_kwargs,
            ):
                rows.setdefault(str(row.get("id", "")).lower(), row)
        return list(rows.values())

    def sweep_resources(self, types: Iterable[str]) -> tuple[list[Mapping[str, Any]], Any] | None:
        """Every resource to sweep, and the reader for related resources; None without a source."""
        if self.tenant is not None:
            return list(self.tenant.list()), self.tenant
        if self.azure is None:
            return None
        return self._graph_rows(self.azure, types), self.resource_reader()

    def activity_entries(self) -> Iterator[Mapping[str, Any]]:
        """Activity-log records for attribution, read lazily (nothing is read unless iterated): the tenant
        folder's ``activity/``; in Azure, the latest change per resource that
        :func:`vigil.handlers.run_activity` kept from its incremental reads
        (``vigil.activity_path.remember_changes``)."""
        if self.tenant is not None:
            yield from self.tenant.entries()
        elif self.azure is not None:
            from vigil.activity_path import remembered_changes

            yield from remembered_changes(self.rt.store)

    def idle_inputs(
        self, now: datetime, window_days: int
    ) -> tuple[list[Mapping[str, Any]], Mapping[str, Any], dict[str, Any]] | None:
        """Resources, their hourly metrics over ``window_days`` before ``now``, and source stats;
        None without a source."""
        if self.tenant is not None:
            return list(self.tenant.list()), self.tenant.all_series(), {}
        if self.azure is None:
            return None
        from ingest.metrics import MonitorMetrics

        resources = self._graph_rows(self.azure, IDLE_TYPES)
        options = dict(self.azure.metrics_options)  # a copy: the runtime's own stays as configured
        options.setdefault("client_kwargs", self.azure.azure_client_kwargs)
        monitor = MonitorMetrics(self.azure.credential, **options)
        metrics = monitor.fetch(resources, start=now - timedelta(days=window_days + 1), end=now)
        stats = {
            "resources": len(resources),
            "metric_resources": len(metrics),
            "metric_failures": len(monitor.stats.failed),
        }
        return resources, dict(metrics), stats


_CACHED: tuple[Runtime, LiveSources] | None = None


def live_sources(rt: Runtime) -> LiveSources:
    """The runtime's :class:`LiveSources`. Azure sources are kept while the same runtime object
    is in use (a warm Function instance reuses its ARM client); a tenant folder is opened afresh
    on every call, since its files may change between runs."""
    global _CACHED  # noqa: PLW0603
    cached = _CACHED
    if cached is not None and cached[0] is rt:
        return cached[1]
    sources = LiveSources(rt)
    if sources.tenant is None:
        _CACHED = (rt, sources)
    return sources
