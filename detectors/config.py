"""Config for detectors (the ``detectors`` section of vigil.yaml).

Each detector family owns a sub-section; later issues deepen them.
"""

from __future__ import annotations

from pydantic import Field

from vigil.strict import StrictModel

__all__ = ["DetectorsConfig", "DriftConfig", "IdleConfig", "OverspendConfig"]


class OverspendConfig(StrictModel):
    enabled: bool = True
    min_impact: float = Field(default=50.0, ge=0, description="Minimum absolute daily impact, billing currency.")
    sensitivity: float = Field(default=3.0, gt=0, description="Robust z-score threshold.")


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
