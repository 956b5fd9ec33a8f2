"""Config for data sources (the ``sources`` section of vigil.yaml)."""

from __future__ import annotations

from pydantic import Field

from core.strict import StrictModel

__all__ = ["CostExportSource", "SourcesConfig"]


class CostExportSource(StrictModel):
    """Where Cost Management exports land (a storage container and folder)."""

    container: str = "cost-exports"
    root_folder: str = ""


class SourcesConfig(StrictModel):
    cost_exports: CostExportSource = Field(default_factory=CostExportSource)
    cost_query_api: bool = Field(
        default=False, description="Use the Cost Management Query API for scopes without exports."
    )
    metrics: bool = True
    resource_events: bool = True
