"""Forecast of daily spend to the end of a budget period, with an interval.

A robust linear model (scikit-learn's HuberRegressor, so spikes and one-off days
barely move it) on a trend term and day-of-week indicators, fitted on the last
``history`` days. The interval is a 90% band for the sum of the remaining days,
from the robust residual scale (independent daily errors) plus the uncertainty of
the level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Forecast", "forecast_remaining"]

_Z90 = 1.645


@dataclass(frozen=True, slots=True)
class Forecast:
    remaining: float  # point forecast of the spend still to come in the period
    low: float
    high: float
    method: str
    days_used: int
    reason: str | None = None  # set when the history was too short for a forecast


def forecast_remaining(daily: pd.Series, future: pd.DatetimeIndex, *, history: int = 56) -> Forecast:
    """Spend forecast over ``future`` days from ``daily`` (index: days, NaN = missing day)."""
    hist = daily.iloc[-history:].dropna()
    n = len(hist)
    horizon = len(future)
    if horizon == 0:
        return Forecast(0.0, 0.0, 0.0, "none", n)
    if n < 3:
        return Forecast(0.0, 0.0, 0.0, "none", n, reason=f"needs 3 days of cost data to forecast, has {n}")
    y = hist.to_numpy(dtype=float)
    if n < 14:
        mean = float(np.mean(y))
        sd = float(np.std(y, ddof=1)) if n > 1 else 0.0
        point = mean * horizon
        half = _Z90 * sd * math.sqrt(horizon + horizon**2 / n)
        return Forecast(point, max(point - half, 0.0), point + half, "mean", n)
    from sklearn.linear_model import HuberRegressor

    origin = hist.index[-1]
    scale_y = max(float(np.median(np.abs(y))), 1e-9)

    def features(idx: pd.DatetimeIndex) -> np.ndarray:
        t = ((idx - origin).days.to_numpy(dtype=float)) / 28.0
        dow = np.zeros((len(idx), 6))
        wd = idx.day_of_week.to_numpy()
        for k in range(6):
            dow[:, k] = wd == k
        return np.column_stack([t, dow])

    x_hist = features(pd.DatetimeIndex(hist.index))
    model = HuberRegressor(epsilon=1.35, alpha=1e-4, max_iter=200)
    model.fit(x_hist, y / scale_y)
    fitted = model.predict(x_hist) * scale_y
    pred = np.clip(model.predict(features(future)) * scale_y, 0.0, None)
    resid = y - fitted
    sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    sigma = max(sigma, 0.01 * float(np.mean(np.abs(y))))
    point = float(pred.sum())
    half = _Z90 * sigma * math.sqrt(horizon + horizon**2 / n)
    return Forecast(point, max(point - half, 0.0), point + half, "huber-dow-trend", n)
