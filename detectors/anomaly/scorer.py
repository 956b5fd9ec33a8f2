"""Entry point of the causal scorer: ``score_series(values, profile=...)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from detectors.anomaly.cost import CostParams, score_cost

__all__ = ["PROFILES", "Profile", "Scores", "score_series"]

Profile = Literal["cost", "metric"]
PROFILES: tuple[Profile, ...] = ("cost", "metric")


@dataclass(frozen=True, slots=True)
class Scores:
    """Per-row output. ``score`` is NaN where no verdict was possible; ``reasons`` says why."""

    score: npt.NDArray[np.float64]
    is_anomaly: npt.NDArray[np.bool_]
    expected: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    reasons: tuple[str | None, ...]
    rebased: npt.NDArray[np.bool_] | None = None  # cost: the row where a lasting change became the baseline
    recurring: npt.NDArray[np.float64] | None = None  # cost: the monthly recurring charge expected on the row

    def __len__(self) -> int:
        return len(self.score)

    @property
    def judged(self) -> npt.NDArray[np.bool_]:
        return ~np.isnan(self.score)

    @property
    def reason(self) -> str | None:
        """Why the series got no verdict at all (None when at least one row was judged)."""
        if len(self.score) == 0:
            return "empty series"
        if self.judged.any():
            return None
        short = [r for r in self.reasons if r and r.startswith("too little history")]
        if short:
            return "series too short to judge: " + short[-1].removeprefix("too little history: ")
        return next((r for r in reversed(self.reasons) if r), "no verdict")


def score_series(
    values: Sequence[float] | npt.NDArray[np.float64],
    *,
    profile: Profile = "metric",
    period: int | None = None,
    sensitivity: float | None = None,
    min_impact: float = 0.0,
    positions: Sequence[int] | npt.NDArray[np.int64] | None = None,
    days: npt.NDArray[np.datetime64] | None = None,
    holidays: str | None = None,
    provisional: int = 0,
) -> Scores:
    """Score every row causally (row t uses rows 0..t only).

    ``period`` is the seasonal cycle in rows (cost: 7 for daily, 24 for hourly; metric:
    rows per day, 0 or None for none);
    ``sensitivity`` is the robust z at which a row is an anomaly (score 0.5);
    ``min_impact`` is the least excess over the expected value (cost profile);
    ``positions`` places rows on a regular calendar grid (cost profile: day or hour
    number, non-decreasing) so gaps keep the seasonal phase;
    ``days`` (cost profile, daily rows): each row's calendar date, for monthly recurring
    charges and for the ``holidays`` calendar (detectors/anomaly/holidays.py);
    ``provisional`` (cost profile): the newest rows still incomplete (restated later).

    Callers with timestamps use ``detectors.anomaly.score_timeseries``, which derives
    ``period``, ``positions`` and ``days`` from them.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("values must be one-dimensional")
    x = np.where(np.isfinite(x), x, np.nan)
    if profile == "cost":
        params = CostParams(
            period=period or 7,
            sensitivity=sensitivity or 3.0,
            min_impact=min_impact,
            rows_per_day=24 if period == 24 else 1,
        )
        pos = None if positions is None else np.asarray(positions, dtype=np.int64)
        if pos is not None and (len(pos) != len(x) or (len(pos) > 1 and bool(np.any(np.diff(pos) < 0)))):
            raise ValueError("positions must be non-decreasing and as long as values")
        if days is not None and len(days) != len(x):
            raise ValueError("days must be as long as values")
        hol = None
        if days is not None and holidays:
            from detectors.anomaly.holidays import holiday_mask

            hol = holiday_mask(days, holidays)
        out = score_cost(x, params, pos, days=days, holiday=hol, provisional=provisional)
        return Scores(out.score, out.flags, out.expected, out.scale, tuple(out.reasons), out.rebased, out.recurring)
    if profile == "metric":
        from detectors.anomaly.metric import MetricParams, score_metric

        mp = MetricParams(
            period=period or 0,
            threshold=0.5 if sensitivity is None else _threshold_from(sensitivity),
        )
        s, f, e, sc, r = score_metric(x, mp)
        return Scores(s, f, e, sc, tuple(r))
    raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")


def _threshold_from(sensitivity: float) -> float:
    return float(1.0 - 2.0 ** (-((3.0 / sensitivity) ** 2)))
