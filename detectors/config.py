"""Config for detectors (the ``detectors`` section of vigil.yaml).

Each detector family owns a sub-section; later issues deepen them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.strict import StrictModel

__all__ = [
    "ActivityConfig",
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
AnomalyScope = Literal["billing_account", "provider", "subscription", "resource_group", "service", "resource"]
BudgetPeriod = Literal["monthly", "quarterly", "annual"]


class BudgetScope(StrictModel):
    """What a budget covers. ``value``: subscription id (an AWS account or Google Cloud project for those
    clouds), a provider (``ProviderName``: Microsoft, AWS, Google Cloud), ``<subscription>/<resource group>``
    (or just the resource group name), ``key=value`` for a tag, or a service name.
    The billing account needs no value."""

    kind: Literal["billing_account", "provider", "subscription", "resource_group", "tag", "service"]
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
    sensitivity: float = Field(
        default=3.0, gt=0, description="Robust z of the one-step prediction error (log cost) that is anomalous."
    )
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
    # The cost model's season and error windows are 16 weeks each after a 3-week warm-up (detectors/anomaly/
    # cost.py), more than 70 days hold. The pipeline run once a day as the Function App runs it (bench/
    # cost_scenarios ``daily``), development seeds 0..39 (session 10): over 70 days recall 0.833 and 0.689 false
    # alerts/series-year; over 180 days 0.905 and 0.950; over 365 days 0.905 and 0.898; the whole series in one
    # call 0.905 and 0.585. Not raised yet: the rows a detection loads (``cost_history``) grow with it, and at
    # 13.2 M rows the detect step peaked at 1,084 MB over 100 days (docs/cost-scale.md), near the Consumption
    # plan's 1.5 GB; the memory at 211 days is not measured.
    history_days: int = Field(
        default=70, ge=21, description="Days of history the anomaly model reads before the earliest day judged."
    )
    resolve_lookback_days: int = Field(
        default=7, ge=1, description="An anomaly this many days back that is now normal is reported RESOLVED."
    )
    max_contributors: int = Field(default=5, ge=1, le=50)
    holidays: str | None = Field(
        default="US",
        description="Holiday calendar for the anomaly model: US (federal and Christmas to New Year), XMAS, or null.",
    )
    provisional_days: int = Field(
        default=3, ge=0, le=14, description="Newest days still incomplete in the export (restated by later runs)."
    )
    budgets: list[BudgetConfig] = Field(default_factory=list)

    @field_validator("holidays")
    @classmethod
    def _known_calendar(cls, value: str | None) -> str | None:
        from detectors.anomaly.holidays import holidays_in

        if value is not None and value.strip().lower() not in ("", "none"):
            holidays_in(2024, value)  # ValueError names the unknown calendar
            return value
        return None

    @model_validator(mode="after")
    def _unique_budgets(self) -> OverspendConfig:
        names = [b.name for b in self.budgets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"budget names must be unique: {', '.join(dupes)}")
        return self


# Sources of the idle defaults (cited in detectors/idle/README.md):
#   [ADV] Azure Advisor cost recommendations, "shutdown" criteria:
#         https://learn.microsoft.com/azure/advisor/advisor-cost-recommendations
#         (7 days; P95 of max CPU < 3 %; P100 of average CPU over the last 3 days <= 2 %;
#         outbound network utilization < 2 % over the seven days).
#   [AOE] Azure Optimization Engine (FinOps toolkit), "Adjust thresholds":
#         https://learn.microsoft.com/cloud-computing/finops/toolkit/optimization-engine/customize-optimization-engine
#         (AzureOptimization_PerfPercentileCpu = 99, AzureOptimization_PerfThresholdCpuPercentage = 30,
#         AzureOptimization_RecommendPerfPeriodInDays = 7, time grain 1h).
#   [AML] Azure ML idle shutdown (15 minutes .. 3 days of no activity):
#         https://learn.microsoft.com/azure/machine-learning/how-to-create-compute-instance#configure-idle-shutdown
#   [VIGIL] a Vigil choice, no external reference; change it in vigil.yaml.


class IdleConfig(StrictModel):
    enabled: bool = True
    lookback_days: int = Field(default=7, ge=1, description="[ADV] days of hourly metrics judged (shutdown rule).")
    cpu_p95_max_percent: float = Field(
        default=3.0, ge=0, le=100, description="[ADV] P95 of hourly max CPU must be below."
    )
    recent_days: int = Field(default=3, ge=1, description="[ADV] the 'last 3 days' of the average-CPU test.")
    cpu_recent_avg_max_percent: float = Field(
        default=2.0, ge=0, le=100, description="[ADV] max of hourly average CPU over recent_days must be at most."
    )
    network_out_max_percent: float = Field(
        default=2.0,
        ge=0,
        le=100,
        description="[ADV] P95 of hourly outbound network, as % of the VM size's expected bandwidth, must be below.",
    )
    network_default_mbps: float = Field(
        default=1000.0,
        gt=0,
        description="[VIGIL] expected bandwidth (Mbit/s) of VM sizes missing from detectors/idle/prices.py.",
    )
    min_coverage: float = Field(
        default=0.8, gt=0, le=1, description="[VIGIL] share of the window's hours that must have data to judge."
    )
    rightsize_lookback_days: int = Field(default=7, ge=1, description="[AOE] RecommendPerfPeriodInDays.")
    rightsize_cpu_percentile: float = Field(default=99.0, gt=0, le=100, description="[AOE] PerfPercentileCpu.")
    rightsize_cpu_max_percent: float = Field(
        default=30.0, ge=0, le=100, description="[AOE] PerfThresholdCpuPercentage: the percentile must be below."
    )
    rightsize_saving_fraction: float = Field(
        default=0.5, gt=0, le=1, description="[VIGIL] one size down in a family halves vCPUs and price."
    )
    ml_instance_idle_hours: int = Field(
        default=4, ge=1, le=72, description="[VIGIL] within [AML]'s 15 min..3 days idle-shutdown range."
    )
    ml_instance_cpu_max_percent: float = Field(
        default=5.0, ge=0, le=100, description="[VIGIL] hourly max CpuUtilizationPercentage must stay below."
    )
    ml_instance_gpu_max_percent: float = Field(
        default=5.0, ge=0, le=100, description="[VIGIL] hourly max GpuUtilizationPercentage must stay below."
    )
    ml_cluster_idle_hours: int = Field(
        default=8, ge=1, description="[VIGIL] hours with idle nodes and no active node before a cluster fires."
    )
    disk_unattached_days: int = Field(
        default=7, ge=0, description="[VIGIL] days a managed disk must have been unattached."
    )
    waste_window_days: int = Field(
        default=30, ge=1, description="[VIGIL] days of cost rows averaged into the monthly waste."
    )
    hours_per_month: float = Field(default=730.0, gt=0, description="Azure pricing's hours per month (estimates).")


class DriftConfig(StrictModel):
    enabled: bool = True
    policy_paths: list[str] = Field(default_factory=list, description="Folders of user policy definitions.")
    parameters: dict[str, dict[str, object]] = Field(
        default_factory=dict, description="Parameter values per policy definition name."
    )
    history_days: int = Field(
        default=180, ge=1, le=3650, description="Days of verdict history kept per resource and rule (the newest stays)."
    )
    history_entries: int = Field(
        default=100, ge=1, le=10_000, description="Most verdict-history entries kept per resource and rule."
    )


class ActivityConfig(StrictModel):
    """Rules on activity-log operations (detectors/activity). The privileged roles, management ports and
    Internet prefixes are the shared drift policies' parameters (``drift.parameters``), not repeated here."""

    enabled: bool = True
    guest_principal_ids: list[str] = Field(
        default_factory=list,
        description="Object ids of guest or external principals (the activity log names principals by id only).",
    )
    burst_min_failures: int = Field(
        default=10, ge=2, description="[VIGIL] failed writes/deletes by one caller that make a burst."
    )
    burst_window_minutes: int = Field(
        default=10, ge=1, le=24 * 60, description="[VIGIL] the window those failures fall in."
    )


class DetectorsConfig(StrictModel):
    overspend: OverspendConfig = Field(default_factory=OverspendConfig)
    idle: IdleConfig = Field(default_factory=IdleConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
