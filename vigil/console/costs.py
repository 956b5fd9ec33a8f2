"""The cost drill-down's series: the scope's full cost per day over the anomaly model's history,
with the expected value and band from the same model the detector ran.

Costs are read from the cost store with the reader detection uses (``ingest.cost.load_costs``
with ``aggregate=True`` over ``cost_history(config)`` before ``now``), prepared and scored by the
overspend detector's own functions (``detectors.overspend.anomalies.scope_band``), so the chart
shows what the detector saw. pandas is imported here only, on the first cost page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.console.chart import CostPoint

if TYPE_CHECKING:
    from detectors.config import OverspendConfig

__all__ = ["CostSeries", "CostSeriesReader", "store_series_reader"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CostSeries:
    """One scope's series for the page; ``problem`` says why there is none."""

    points: list[CostPoint] = field(default_factory=list)
    currency: str = ""
    sensitivity: float = 0.0
    min_impact: float = 0.0
    problem: str = ""


CostSeriesReader = Callable[[str, str, datetime], CostSeries]  # (scope kind, scope, now)


def store_series_reader(blobs: Callable[[], Any], config: OverspendConfig) -> CostSeriesReader:
    """A reader over the cost store ``blobs()`` opens (the runtime's ``COSTS_CONTAINER``)."""

    def read(kind: str, scope: str, now: datetime) -> CostSeries:
        from detectors.overspend.anomalies import scope_band
        from detectors.overspend.frame import prepare
        from ingest.cost import load_costs
        from vigil.handlers._common import cost_history

        history = cost_history(config)
        try:
            costs = load_costs(blobs(), start=now - history, end=now, aggregate=True)
        except Exception as exc:  # an absent container, storage unreachable, a bad file: say so
            log.warning("console: the cost store could not be read: %s", exc, extra={"scope": scope})
            return CostSeries(problem=f"The cost store could not be read: {type(exc).__name__}: {exc}")
        if costs.empty:
            return CostSeries(
                problem=f"The cost store holds no costs in the {history.days} days before {now:%Y-%m-%d}."
            )
        for prep in prepare(costs, cost_column=config.cost_column, now=now):
            band = scope_band(prep, config=config, kind=kind, value=scope, now=now)
            if band is None:
                continue
            points = [
                CostPoint(day, actual, expected, low, high, flag)
                for day, actual, expected, low, high, flag in zip(
                    band.buckets, band.actual, band.expected, band.low, band.high, band.anomaly, strict=True
                )
            ]
            return CostSeries(points, band.currency, band.sensitivity, band.min_impact)
        return CostSeries(problem=f"The cost store has no {kind.replace('_', ' ')} series for {scope}.")

    return read
