"""Config for data sources (the ``sources`` section of vigil.yaml)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from core.strict import StrictModel

__all__ = [
    "ActivityLogAnalyticsSource",
    "ActivityRestSource",
    "ActivitySourcesConfig",
    "CostExportSource",
    "SourcesConfig",
]

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A resource provider namespace (``Microsoft.Authorization``): it goes into a REST $filter, so no quotes.
_PROVIDER = r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$"


class CostExportSource(StrictModel):
    """Where Cost Management exports land (a storage container and folder). The Function App reads its own
    ``EXPORTS_CONTAINER``; ``vigil run`` without ``--tenant`` reads the container in ``account_url``."""

    container: str = "cost-exports"
    root_folder: str = ""
    account_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s/?#]+(/[^\s?#]*)?$",
        description="Blob endpoint of the storage account the exports land in "
        "(https://<account>.blob.core.windows.net), for `vigil run` without --tenant; "
        "unset: that run reads the Cost Management Query API instead.",
    )


class ActivityRestSource(StrictModel):
    """The Activity Log REST API (``GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values``)
    for one subscription, optionally narrowed to some resource providers (one call each)."""

    kind: Literal["rest"] = "rest"
    subscription_id: str = Field(pattern=_GUID)
    resource_providers: list[str] = Field(
        default_factory=list,
        description="Resource provider namespaces to read (one $filter each); empty reads every provider.",
    )

    @model_validator(mode="after")
    def _providers(self) -> ActivityRestSource:
        bad = [p for p in self.resource_providers if not re.match(_PROVIDER, p)]
        if bad:
            raise ValueError(f"resource_providers: not a provider namespace: {', '.join(map(repr, bad))}")
        return self


class ActivityLogAnalyticsSource(StrictModel):
    """A Log Analytics workspace that receives the activity log (the ``AzureActivity`` table) through a
    subscription diagnostic setting; ``subscription_ids`` narrows the query (empty: every subscription)."""

    kind: Literal["log_analytics"] = "log_analytics"
    workspace_id: str = Field(pattern=_GUID, description="The workspace (customer) id, not its ARM id.")
    subscription_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _subs(self) -> ActivityLogAnalyticsSource:
        bad = [s for s in self.subscription_ids if not re.match(_GUID, s)]
        if bad:
            raise ValueError(f"subscription_ids: not a GUID: {', '.join(map(repr, bad))}")
        return self


class ActivitySourcesConfig(StrictModel):
    """Incremental activity-log reading: each source keeps a checkpoint and re-reads ``overlap_minutes``
    before it (the activity log delivers records up to about 15 minutes late); records are deduplicated by
    ``eventDataId`` across sources, windows and restarts."""

    rest: list[ActivityRestSource] = Field(default_factory=list)
    log_analytics: list[ActivityLogAnalyticsSource] = Field(default_factory=list)
    overlap_minutes: int = Field(
        default=20,
        ge=0,
        le=24 * 60,
        description="Re-read window before the checkpoint: the ~15 min activity-log latency plus ingestion.",
    )
    initial_lookback_hours: int = Field(
        default=24, ge=1, le=90 * 24, description="How far back the first read goes (the activity log keeps 90 days)."
    )
    max_window_hours: int = Field(default=6, ge=1, le=24 * 7, description="Longest time window of one query.")


class SourcesConfig(StrictModel):
    cost_exports: CostExportSource = Field(default_factory=CostExportSource)
    cost_query_api: bool = Field(
        default=False, description="Use the Cost Management Query API for scopes without exports."
    )
    metrics: bool = True
    resource_events: bool = True
    activity: ActivitySourcesConfig = Field(default_factory=ActivitySourcesConfig)
