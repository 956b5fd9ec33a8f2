"""Config for detectors (the ``detectors`` section of vigil.yaml).

Each detector family owns a sub-section; later issues deepen them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vigil.strict import StrictModel

__all__ = [
    "AnomalyScope",
    "BudgetConfig",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetThreshold",
    "DetectorsConfig",
    "DriftConfig",
    "IdleConfig",
    "OverspendConfig",
    "ScopeKind",
]

ScopeKind = Literal["billing_account", "subscription", "resource_group", "tag", "service", "resource"]
AnomalyScope = Literal["billing_account", "subscription", "resource_group", "service", "resource"]
BudgetPeriod = Literal["monthly", "quarterly", "annual"]


class BudgetScope(StrictModel):
    """What a budget covers. ``value``: subscription id, ``<subscription>/<resource group>``
    (or just the resource group name), ``key=value`` for a tag, or a service name.
    The billing account needs no value."""

    kind: Literal["billing_account", "subscription", "resource_group", "tag", "service"]
    value: str = ""

    @model_validator(mode="after")
    def _check(self) -> BudgetScope:
        if self.kind != "billing_account" and not self.value.strip():
            raise ValueError(f"scope kind {self.kind!r} needs a value")
        if self.kind == "tag" and "=" not in self.value:
            raise ValueError("a tag scope value is 'key=value'")
        return self


class BudgetThreshold(StrictModel):
    """A percentage of the budget amount, on actual or on forecast spend (as Azure budgets allow)."""

    percent: float = Field(gt=0, le=1000)
    on: Literal["actual", "forecast"] = "actual"


def _default_scopes() -> list[AnomalyScope]:
    return ["subscription", "resource_group", "service", "resource"]


def _default_thresholds() -> list[BudgetThreshold]:
    return [
        BudgetThreshold(percent=80, on="actual"),
        BudgetThreshold(percent=100, on="actual"),
        BudgetThreshold(percent=100, on="forecast"),
    ]


class BudgetConfig(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    scope: BudgetScope
    period: BudgetPeriod = "monthly"
    amount: float = Field(gt=0, description="Budget amount per period, in the billing currency.")
    thresholds: list[BudgetThreshold] = Field(default_factory=_default_thresholds, min_length=1)


class OverspendConfig(StrictModel):
    enabled: bool = True
    min_impact: float = Field(default=50.0, ge=0, description="Minimum absolute daily impact, billing currency.")
    sensitivity: float = Field(default=3.0, gt=0, description="Robust z-score threshold.")
    cost_column: Literal["EffectiveCost", "BilledCost"] = Field(
        default="EffectiveCost", description="Which cost to watch; the other fills its gaps."
    )
    scopes: list[AnomalyScope] = Field(
        default_factory=_default_scopes,
        description="Scopes whose daily cost is checked for anomalies.",
    )
    top_resources: int = Field(
        default=10, ge=0, description="How many of the costliest resources get their own series."
    )
    history_days: int = Field(default=70, ge=21, description="Days of history the anomaly model reads.")
    resolve_lookback_days: int = Field(
        default=7, ge=1, description="An anomaly this many days back that is now normal is reported RESOLVED."
    )
    max_contributors: int = Field(default=5, ge=1, le=50)
    budgets: list[BudgetConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_budgets(self) -> OverspendConfig:
        names = [b.name for b in self.budgets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"budget names must be unique: {', '.join(dupes)}")
        return self


class IdleConfig(StrictModel):
    enabled: bool = True
    lookback_days: int = Field(default=7, ge=1)
    cpu_p95_max_percent: float = Field(default=3.0, ge=0, le=100)


class DriftConfig(StrictModel):
    enabled: bool = True
    policy_paths: list[str] = Field(default_factory=list, description="Folders of user policy definitions.")
    parameters: dict[str, dict[str, object]] = Field(
        default_factory=dict, description="Parameter values per policy definition name."
    )


class DetectorsConfig(StrictModel):
    overspend: OverspendConfig = Field(default_factory=OverspendConfig)
    idle: IdleConfig = Field(default_factory=IdleConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
