"""Cost profile: one-sided, seasonal, robust scoring of a regular spend series.

For row t the model looks only at the ``weeks`` seasonal cycles before t:

- seasonal effect per phase (weekday for daily data, hour for hourly data):
  median of the values at that phase minus the window median;
- level: median of the de-seasonalised values of the last cycle;
- trend: Theil-Sen slope over the per-cycle medians, damped, projected from the
  centre of the last cycle to t;
- scale: 1.4826 x MAD of the de-seasonalised values around their own cycle's
  median (so an old step does not inflate it), with a relative floor.

z = (x_t - expected_t) / scale. Medians make single spikes, holidays and one-off
days in the history harmless. Only increases score: a drop is never overspend.
A second, slower check compares the level of the last cycle with the level
projected from older cycles, so a gradual ramp is caught once it adds up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CostParams", "score_cost"]

FloatArray = npt.NDArray[np.float64]
_MAD = 1.4826


@dataclass(frozen=True, slots=True)
class CostParams:
    period: int = 7
    cycles: int = 8
    min_cycles: int = 2
    sensitivity: float = 3.0
    min_impact: float = 0.0
    rel_floor: float = 0.03
    trend_damping: float = 0.5
    drift_sensitivity: float = 4.0


def _score(z: float, sensitivity: float) -> float:
    if not z > 0:
        return 0.0
    return 1.0 - math.pow(2.0, -((z / sensitivity) ** 2))


def score_cost(
    x: FloatArray, p: CostParams, positions: npt.NDArray[np.int64] | None = None
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray, list[str | None]]:
    """Scores, verdicts, expected values, scales and per-row reasons (None when judged).

    ``positions``: each row's slot on a regular calendar grid (day or hour number), so
    that gaps keep the seasonal phase right; default: the row index.
    """
    n = len(x)
    per = p.period
    window = per * p.cycles
    min_hist = per * p.min_cycles
    scores = np.full(n, np.nan)
    flags = np.zeros(n, dtype=bool)
    expected = np.full(n, np.nan)
    scales = np.full(n, np.nan)
    reasons: list[str | None] = [None] * n
    if positions is None:
        positions = np.arange(n, dtype=np.int64)
    for t in range(n):
        xt = x[t]
        if math.isnan(xt):
            reasons[t] = "value is missing (NaN or gap)"
            continue
        pt = int(positions[t])
        lo = int(np.searchsorted(positions, pt - window, side="left"))
        w = x[lo:t]
        valid = ~np.isnan(w)
        count = int(valid.sum())
        if count < min_hist:
            reasons[t] = f"too little history: {count} valid points before this one, needs {min_hist}"
            continue
        wv = w[valid]
        idx = positions[lo:t][valid]
        phase = idx % per
        med = float(np.median(wv))
        season = np.zeros(per)
        for ph in range(per):
            sel = wv[phase == ph]
            if sel.size:
                season[ph] = float(np.median(sel)) - med
        season -= float(np.median(season))
        d = wv - season[phase]
        # Cycle blocks counted backwards from t: block 0 is the last full cycle.
        block = (pt - 1 - idx) // per
        nblocks = int(block.max()) + 1
        bmed = np.full(nblocks, np.nan)
        dev = np.empty_like(d)
        for b in range(nblocks):
            sel = block == b
            if sel.any():
                m = float(np.median(d[sel]))
                bmed[b] = m
                dev[sel] = d[sel] - m
            # an empty block stays NaN
        level = float(bmed[0]) if not math.isnan(bmed[0]) else med
        slope = _theil_sen(bmed, per) * p.trend_damping
        exp_t = level + slope * (per + 1) / 2.0 + season[pt % per]
        scale = _MAD * float(np.median(np.abs(dev))) * math.sqrt(per / max(per - 1, 1))
        scale = max(scale, p.rel_floor * abs(level), 1e-9)
        z = (xt - exp_t) / scale
        # Slow check for a ramp: last cycle's level against the projection of older cycles.
        zd = 0.0
        drift = 0.0
        if nblocks >= 4 and not math.isnan(bmed[0]):
            old = bmed[2:]
            if np.count_nonzero(~np.isnan(old)) >= 2:
                old_slope = _theil_sen(old, per) * p.trend_damping
                old_level = float(np.nanmedian(old[:2])) if old.size >= 2 else float(old[0])
                proj = old_level + old_slope * per * 2.5
                bscale = scale / math.sqrt(per) * 2.0
                drift = level - proj
                zd = drift / bscale
        expected[t] = exp_t
        scales[t] = scale
        s = _score(z, p.sensitivity)
        sd = _score(zd, p.drift_sensitivity) if xt > exp_t - scale else 0.0
        impact = xt - exp_t if s >= sd else drift
        scores[t] = max(s, sd)
        flags[t] = scores[t] >= 0.5 and impact >= p.min_impact
    return scores, flags, expected, scales, reasons


def _theil_sen(bmed: FloatArray, per: int) -> float:
    """Slope per row from per-cycle medians (index 0 = most recent cycle)."""
    ok = ~np.isnan(bmed)
    if np.count_nonzero(ok) < 2:
        return 0.0
    ys = bmed[ok]
    xs = -np.nonzero(ok)[0].astype(float) * per
    i, j = np.triu_indices(len(ys), k=1)
    return float(np.median((ys[i] - ys[j]) / (xs[i] - xs[j])))
