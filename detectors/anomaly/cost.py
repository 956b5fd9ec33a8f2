"""Cost profile: one-sided, seasonal, robust scoring of a regular spend series.

For row t the model looks only at the ``cycles`` seasonal cycles before t (laid
on a calendar grid, so gaps stay gaps):

- seasonal effect per phase (weekday for daily data, hour for hourly data):
  median of the values at that phase minus the window median;
- level: median of the de-seasonalised values of the last cycle;
- trend: Theil-Sen slope over the per-cycle medians, damped, projected from the
  centre of the last cycle to t;
- scale: 1.4826 x MAD of the model's own past one-step errors (so it is the
  scale of *prediction* errors, level and season estimation included), never
  below the within-cycle spread or a small share of the level.

z = (x_t - expected_t) / scale. Medians make single spikes, holidays and one-off
days in the history harmless. Only increases score: a drop is never overspend.
A slower check compares the level of the last cycle with the level projected
from older cycles, so a gradual ramp is caught once it adds up.
"""

from __future__ import annotations

import math
import warnings
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
    min_cycles: int = 3
    sensitivity: float = 3.0
    min_impact: float = 0.0
    rel_floor: float = 0.02
    trend_damping: float = 0.5
    drift_sensitivity: float = 3.0
    resid_cycles: int = 16
    level_cycles: int = 2
    log: bool = True  # model log(cost + offset): multiplicative season and noise
    offset: float = 1.0


def _score(z: float, sensitivity: float) -> float:
    if not z > 0:
        return 0.0
    return 1.0 - math.pow(2.0, -((z / sensitivity) ** 2))


def _fmed(a: FloatArray, axis: int | None = None) -> FloatArray:
    """Median without NaN, by sorting: much cheaper than np.median on tiny arrays."""
    if axis is None:
        a = a.ravel()
        axis = 0
    srt = np.sort(a, axis=axis)
    m = srt.shape[axis]
    lo = np.take(srt, (m - 1) // 2, axis=axis)
    hi = np.take(srt, m // 2, axis=axis)
    return np.asarray((lo + hi) / 2.0, dtype=np.float64)


def _median(a: FloatArray, axis: int | None = None, *, has_nan: bool) -> FloatArray:
    if not has_nan:
        return _fmed(a, axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(a, axis=axis), dtype=np.float64)


def score_cost(
    x: FloatArray, p: CostParams, positions: npt.NDArray[np.int64] | None = None
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray, list[str | None]]:
    """Scores, verdicts, expected values, scales and per-row reasons (None when judged).

    ``positions``: each row's slot on a regular calendar grid (day or hour number), so
    that gaps keep the seasonal phase right; default: the row index.
    """
    raw = x
    if p.log:
        with np.errstate(invalid="ignore"):
            x = np.log(np.maximum(raw, 0.0) + p.offset)
    n = len(x)
    per = p.period
    window = per * p.cycles
    min_hist = per * p.min_cycles
    scores = np.full(n, np.nan)
    flags = np.zeros(n, dtype=bool)
    expected = np.full(n, np.nan)
    scales = np.full(n, np.nan)
    reasons: list[str | None] = [None] * n
    resid: list[float] = []
    last_jump = -(10**12)  # position of the last day the one-step check fired
    if positions is None:
        positions = np.arange(n, dtype=np.int64)
    for t in range(n):
        xt = float(x[t])
        if math.isnan(xt):
            reasons[t] = "value is missing (NaN or gap)"
            continue
        pt = int(positions[t])
        first = pt - window
        lo = int(np.searchsorted(positions, first, side="left"))
        vals = x[lo:t]
        ok = ~np.isnan(vals)
        count = int(ok.sum())
        if count < min_hist:
            reasons[t] = f"too little history: {count} valid points before this one, needs {min_hist}"
            continue
        grid = np.full(window, np.nan)
        slots = positions[lo:t] - first
        grid[slots[ok]] = vals[ok]
        has_nan = count < window or bool(np.isnan(grid).any())
        g = grid.reshape(p.cycles, per)  # row -1 = the last cycle; column 0 = t's phase
        med = float(_median(grid, has_nan=has_nan))
        season = _median(g - med, axis=0, has_nan=has_nan)
        season = np.where(np.isnan(season), 0.0, season)
        season -= float(_fmed(season))
        d = g - season
        bmed = _median(d, axis=1, has_nan=has_nan)[::-1]  # index 0 = most recent cycle
        dev = np.abs(d - bmed[::-1, None])
        slope = _theil_sen(bmed, per) * p.trend_damping
        recent_d = d[-p.level_cycles :].ravel()
        recent_d = recent_d[~np.isnan(recent_d)]
        if recent_d.size >= 3:
            level = _trimmed_mean(recent_d)
            back = (per * p.level_cycles + 1) / 2.0
        else:
            level, back = (float(bmed[0]) if not math.isnan(bmed[0]) else med), (per + 1) / 2.0
        exp_t = level + slope * back + float(season[0])
        within = _MAD * float(_median(dev, has_nan=has_nan)) * 1.3
        scale = within
        if len(resid) >= min_hist:
            recent = np.asarray(resid[-per * p.resid_cycles :])
            centre = float(_fmed(recent))
            mad_sd = _MAD * float(_fmed(np.abs(recent - centre)))
            # Winsorised RMS of the upper half: a right tail heavier than a Gaussian widens
            # the scale, while drops (holidays) and a few past excesses (clipped at 4
            # MAD-sigmas) cannot blow it up.
            upper = np.clip(recent[recent > centre] - centre, 0.0, 4 * mad_sd)
            tail = float(np.sqrt(np.mean(upper**2))) if upper.size else 0.0
            scale = max(scale, mad_sd, tail)
        scale = max(scale, p.rel_floor if p.log else p.rel_floor * abs(level), 1e-9)
        z = (xt - exp_t) / scale
        # Slow check for a ramp: last cycle's level against the projection of older cycles.
        zd = drift = 0.0
        known = np.nonzero(~np.isnan(bmed))[0]
        if len(known) >= 4 and known[0] == 0:
            old = bmed[2:]
            if np.count_nonzero(~np.isnan(old)) >= 2:
                old_slope = _theil_sen(old, per) * p.trend_damping
                old_level = float(np.nanmedian(old[:2])) if not np.isnan(old[:2]).all() else float(np.nanmedian(old))
                drift = level - (old_level + old_slope * per * 2.5)
                zd = drift / (scale / math.sqrt(per) * 2.0)
        if p.log:
            expected[t] = math.exp(exp_t) - p.offset
            scales[t] = math.exp(exp_t) * (math.exp(scale) - 1.0)
            drift_units = math.exp(level) * (1.0 - math.exp(-drift)) if drift > 0 else 0.0
        else:
            expected[t] = exp_t
            scales[t] = scale
            drift_units = drift
        s = _score(z, p.sensitivity)
        if s < 0.5:
            resid.append(xt - exp_t)  # anomalous days do not teach the scale
        if s >= 0.5:
            last_jump = pt
        # The slow check only speaks for a change the one-step check has not already seen,
        # and only on a day that is itself above expectation.
        quiet = pt - last_jump > per * 3
        sd = _score(zd, p.drift_sensitivity) if quiet and xt > exp_t else 0.0
        impact = float(raw[t]) - expected[t] if s >= sd else drift_units
        scores[t] = max(s, sd)
        flags[t] = scores[t] >= 0.5 and impact >= p.min_impact
    return scores, flags, expected, scales, reasons


def _trimmed_mean(a: FloatArray) -> float:
    """Mean without the highest and lowest sixth (at least one each side)."""
    srt = np.sort(a)
    k = max(1, len(srt) // 6)
    return float(srt[k:-k].mean())


def _theil_sen(bmed: FloatArray, per: int) -> float:
    """Slope per row from per-cycle medians (index 0 = most recent cycle)."""
    ok = ~np.isnan(bmed)
    if np.count_nonzero(ok) < 2:
        return 0.0
    ys = bmed[ok]
    xs = -np.nonzero(ok)[0].astype(float) * per
    i, j = np.triu_indices(len(ys), k=1)
    return float(_fmed((ys[i] - ys[j]) / (xs[i] - xs[j])))
