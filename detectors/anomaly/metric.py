"""Metric profile: streaming robust scoring for generic metrics (tuned on NAB only)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MetricParams", "score_metric"]

FloatArray = npt.NDArray[np.float64]
_MAD = 1.4826


@dataclass(frozen=True, slots=True)
class MetricParams:
    window: int = 400
    min_history: int = 30
    threshold: float = 0.5
    sensitivity: float = 4.0


def score_metric(
    x: FloatArray, p: MetricParams
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray, list[str | None]]:
    n = len(x)
    scores = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    scales = np.full(n, np.nan)
    reasons: list[str | None] = [None] * n
    for t in range(n):
        xt = x[t]
        if math.isnan(xt):
            reasons[t] = "value is missing (NaN)"
            continue
        w = x[max(0, t - p.window) : t]
        w = w[~np.isnan(w)]
        if w.size < p.min_history:
            reasons[t] = f"too little history: {w.size} valid points before this one, needs {p.min_history}"
            continue
        med = float(np.median(w))
        scale = max(_MAD * float(np.median(np.abs(w - med))), 1e-3 * (abs(med) + 1e-9), 1e-9)
        z = abs(xt - med) / scale
        expected[t] = med
        scales[t] = scale
        scores[t] = 1.0 - math.pow(2.0, -((z / p.sensitivity) ** 2))
    flags = np.nan_to_num(scores, nan=0.0) >= p.threshold
    return scores, flags, expected, scales, reasons
