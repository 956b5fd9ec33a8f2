"""Metric profile: streaming robust scoring for generic metrics.

Per row t, from rows before t only (every statistic is a trailing pandas window):

1. level z: |x_t - median| / (IQR / 1.349) over the last ``window`` rows;
2. change z: the same on the first difference (catches jumps inside the range);
3. seasonal z, when ``period`` (rows per day) is known and the series is periodic
   (its same-phase residual is much tighter than its level spread): the residual
   against the median of the same phase on the previous three days replaces 1-2;
4. the rarity of z: its percentile rank among the last ``rank_window`` z values;
5. robust = rank^8 x (1 - exp(-z / 2)), a probability-like figure comparable across series;
6. shape discord (detectors/anomaly/discord.py): the distance from the z-normalised shape
   of the last ``discord_length`` rows to its nearest earlier shape, scored like 1-5
   (one-sided robust z against its own history, then rank and tail) and mixed in:
   robust <- (1 - ``discord_weight``) x robust + ``discord_weight`` x discord;
7. contextual novelty (detectors/anomaly/context.py): how new the pattern of the last
   few quantised values is, averaged over several quantisations;
8. raw = (1 - w) x robust + w x novelty, w = ``context_weight`` (robust alone until a quantisation is learnt);
9. busy-series discount: raw x (1 - ``baseline_weight`` x the ``baseline_quantile`` of the
   raw values of the previous ``baseline_window`` rows, warm-up rows left out), so a series
   whose score is often high (a noisy one) needs a clearer event to alarm;
10. alarm damping: a raw that does not beat the largest raw of the last ``damping_window``
    rows is multiplied by ``damping``, so one event raises one alarm, not a burst;
11. alarm hold-off: a row scoring at least ``holdoff_level`` also multiplies the scores of
    the next ``holdoff`` rows by ``damping`` (a silenced row starts no hold-off of its own),
    which stops the rising run of records that one event can produce.

The defaults were chosen on the NAB development subset only (see bench/nab).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.anomaly.context import ORDER_POWER, context_novelty_ensemble
from detectors.anomaly.discord import discord_distance

__all__ = ["MetricParams", "MetricParts", "combine", "hold_off", "metric_parts", "score_metric"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MetricParams:
    window: int = 2000
    rank_window: int = 5000
    damping_window: int = 4000
    min_history: int = 30
    rank_power: float = 8.0
    z_scale: float = 2.0
    damping: float = 0.7
    context_weight: float = 0.35
    discord_weight: float = 0.15
    discord_length: int = 20
    discord_history: int = 5000
    baseline_weight: float = 0.1
    baseline_quantile: float = 0.9
    baseline_window: int = 1000
    holdoff: int = 20
    holdoff_level: float = 0.5
    threshold: float = 0.5
    period: int = 0  # rows per seasonal cycle (for example rows per day); 0 = none
    order_power: float = ORDER_POWER


def _robust_z(r: pd.Series, window: int, floor: pd.Series, min_periods: int) -> tuple[pd.Series, pd.Series]:
    hist = r.shift(1).rolling(window, min_periods=min_periods)
    med = hist.median()
    iqr = (hist.quantile(0.75) - hist.quantile(0.25)) / 1.349
    scale = pd.Series(np.maximum(iqr, floor) + 1e-9, index=r.index)
    return (r - med).abs() / scale, scale


def _discord_score(x: FloatArray, p: MetricParams) -> FloatArray:
    """Discord distance scored like the value: one-sided robust z against its own past, rank, tail."""
    d = pd.Series(discord_distance(x, length=p.discord_length, history=p.discord_history))
    hist = d.shift(1).rolling(p.window, min_periods=p.min_history)
    iqr = (hist.quantile(0.75) - hist.quantile(0.25)) / 1.349
    z = ((d - hist.median()) / (iqr + 1e-9)).clip(lower=0.0).fillna(0.0)
    rank = z.rolling(p.rank_window, min_periods=1).rank(pct=True)
    score = (rank**p.rank_power * (1.0 - np.exp(-z / p.z_scale))).fillna(0.0)
    return np.asarray(score.to_numpy(dtype=float), dtype=np.float64)


def hold_off(scores: FloatArray, *, level: float, rows: int, factor: float) -> FloatArray:
    """Multiply by ``factor`` the ``rows`` rows after each row scoring at least ``level``.

    Rows inside a hold-off start none of their own; NaN rows are kept and start none.
    Sequential in row order, so a prefix gets the same result as the whole series.
    """
    out = scores.copy()
    until = -1  # last row of the current hold-off
    for t in np.nonzero(~np.isnan(scores))[0].tolist():
        if t <= until:
            out[t] = scores[t] * factor
        elif scores[t] >= level:
            until = t + rows
    return out


@dataclass(frozen=True, slots=True)
class MetricParts:
    """The per-row parts of the metric score that do not depend on the combination constants.

    Computing them is the slow step (the discord and the novelty ensemble); ``combine``
    turns them into scores for any combination constants, which is how bench/nab
    re-tunes those constants per leave-one-out fold without re-running this step.
    """

    z: FloatArray  # the robust z of step 1-3 (0 where not defined)
    discord: FloatArray  # step 6, already scored in [0, 1] (0 when discord_weight is 0)
    novelty: FloatArray  # step 7, NaN during the warm-up (NaN everywhere when context_weight is 0)
    expected: FloatArray
    scale: FloatArray
    reasons: list[str | None]


def metric_parts(x: FloatArray, p: MetricParams) -> MetricParts:
    n = len(x)
    s = pd.Series(x, dtype="float64")
    hist = s.shift(1).rolling(p.window, min_periods=p.min_history)
    floor = 0.02 * (hist.max() - hist.min())
    z, scale = _robust_z(s, p.window, floor, p.min_history)
    zd, _ = _robust_z(s.diff(), p.window, floor, p.min_history)
    zn = pd.Series(np.maximum(z, zd), index=s.index)
    expected = hist.median()
    per = p.period
    if per >= 2 and n > per:
        lagged = pd.concat([s.shift(k * per) for k in (1, 2, 3)], axis=1).median(axis=1)
        zs, sscale = _robust_z(s - lagged, max(p.window, per), floor, p.min_history)
        periodic = (sscale < 0.5 * scale).fillna(False).to_numpy(dtype=bool)
        zz = pd.Series(np.where(periodic, zs, zn)).fillna(zn)
        expected = pd.Series(np.where(periodic, lagged, expected))
    else:
        zz = pd.Series(zn)
    discord = _discord_score(x, p) if p.discord_weight > 0 else np.zeros(n)
    novelty = (
        context_novelty_ensemble(x, order_power=p.order_power) if p.context_weight > 0 else np.full(n, np.nan)
    )
    reasons: list[str | None] = [None] * n
    seen = np.cumsum(~np.isnan(x)) - (~np.isnan(x)).astype(int)  # valid rows strictly before t
    for t in range(n):
        if np.isnan(x[t]):
            reasons[t] = "value is missing (NaN)"
        elif seen[t] < p.min_history:
            reasons[t] = f"too little history: {int(seen[t])} valid points before this one, needs {p.min_history}"
    return MetricParts(
        z=zz.fillna(0.0).to_numpy(dtype=float),
        discord=discord,
        novelty=novelty,
        expected=expected.to_numpy(dtype=float),
        scale=scale.to_numpy(dtype=float),
        reasons=reasons,
    )


def combine(parts: MetricParts, p: MetricParams) -> FloatArray:
    """Steps 4-11: the score per row from the parts and the combination constants (NaN = no verdict)."""
    n = len(parts.z)
    rank = pd.Series(parts.z).rolling(p.rank_window, min_periods=1).rank(pct=True)
    robust = ((rank**p.rank_power) * (1.0 - np.exp(-parts.z / p.z_scale))).fillna(0.0).to_numpy(dtype=float)
    if p.discord_weight > 0:
        robust = (1.0 - p.discord_weight) * robust + p.discord_weight * parts.discord
    raw = robust
    warm = np.zeros(n, dtype=bool)
    if p.context_weight > 0:
        warm = np.isnan(parts.novelty)
        raw = np.where(warm, robust, (1.0 - p.context_weight) * robust + p.context_weight * parts.novelty)
        # warm-up rows (no quantisation learnt yet) score on the robust part alone, and their
        # unsteady scores do not set the bar for the rows after them
    if p.baseline_weight > 0:
        usual = pd.Series(np.where(warm, np.nan, raw)).shift(1)  # warm-up rows say nothing usual
        level = usual.rolling(p.baseline_window, min_periods=50).quantile(p.baseline_quantile).fillna(0.0)
        raw = raw * (1.0 - p.baseline_weight * level.to_numpy())
    reference = np.where(warm, 0.0, raw)  # what later rows must beat to escape damping
    prevmax = pd.Series(reference).shift(1).rolling(p.damping_window, min_periods=1).max().fillna(0.0).to_numpy()
    scores = np.where(raw > prevmax, raw, raw * p.damping)
    judged = np.array([r is None for r in parts.reasons], dtype=bool)
    scores = np.where(judged, np.clip(scores, 0.0, 1.0), np.nan)
    return hold_off(scores, level=p.holdoff_level, rows=p.holdoff, factor=p.damping).astype(np.float64)


def score_metric(
    x: FloatArray, p: MetricParams
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray, list[str | None]]:
    parts = metric_parts(x, p)
    scores = combine(parts, p)
    flags = np.nan_to_num(scores, nan=0.0) >= p.threshold
    return scores, flags, parts.expected, parts.scale, parts.reasons
