"""Honest leave-one-category-out (LOCO) figures for bench/nab: tune on 4 of the 5 categories, score the 5th.

Inside every fold, on the 4 training categories only, we choose:

- every combination constant of the metric profile, from ``GRID`` (a regular grid fixed
  before any fold was scored), and
- the alarm threshold (as NAB's optimiser does, but over the training files).

The held-out category is then scored with those values. The parts of the score that the
grid does not touch (``detectors.anomaly.metric.metric_parts``) are computed once per
file, with the same code as the CLI, and ``combine`` turns them into scores for every
grid point, so that re-tuning every combination constant per fold stays cheap.

The pooled LOCO score sums the held-out raw scores of the 5 folds and normalises them
over all windows, so it is comparable with the development figure (which optimises the
constants and one threshold on all 41 files at once). ``held_out_optimised`` is the
held-out category scored with the constants of its fold but the threshold optimised on
the held-out files themselves: that is how the project lead scores the NAB categories
that are not in ../shared/nab. A category without windows (artificialNoAnomaly) can
only lose points to false positives; it has no score of its own, so the table shows
its raw penalty.

The constants that are NOT re-tuned per fold are listed in ``detectors.anomaly.metric.TUNED``
with the data they were set on; the LOCO figure is optimistic in those.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from bench.nab.scoring import FileTruth, normalise, optimise

# The combination constants re-tuned in every fold (MetricParams field -> candidates).
# A regular grid around round values, fixed before the honest LOCO was first run.
GRID: dict[str, tuple[float, ...]] = {
    "rank_power": (4.0, 8.0, 16.0),
    "z_scale": (1.0, 2.0, 4.0),
    "discord_weight": (0.0, 0.15, 0.3),
    "context_weight": (0.2, 0.35, 0.5),
    "damping": (0.5, 0.7, 0.85),
}


# The constants of the parts (``metric_parts``) re-tuned in every fold (MetricParams field -> candidates):
# the parts are computed once per file per point of this grid, then every GRID point is combined from them.
# A regular grid (halving and doubling the defaults), written down before it was first run (issue 16).
# discord_history (5000) is not in it: every file in ../shared/nab has at most 4730 rows, so 5000
# already compares each shape with the whole history; a third axis would also triple the cost.
PARTS_GRID: dict[str, tuple[int, ...]] = {
    "window": (1000, 2000, 4000),
    "discord_length": (10, 20, 40),
}


def grid_points() -> list[dict[str, float]]:
    return [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def key(point: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in point.items())


def category(name: str) -> str:
    return name.split("/", 1)[0]


def grid_scores(path: str) -> dict[str, np.ndarray]:
    """Scores of one file for every grid point: the CLI's parts, combined with each point's constants."""
    from detectors.anomaly.metric import MetricParams, combine, metric_parts
    from detectors.anomaly.timeseries import rows_per_day

    frame = pd.read_csv(path)
    x = frame["value"].to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    params = MetricParams(period=rows_per_day(frame["timestamp"]))
    parts = metric_parts(x, params)
    return {key(p): combine(parts, replace(params, **p)) for p in grid_points()}  # type: ignore[arg-type]


def loco(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, FileTruth],
    profile: tuple[float, float, float],
) -> dict[str, Any]:
    """Per held-out category: the grid point and threshold chosen on the other categories, and its score."""
    names = sorted(truths)
    cats = sorted({category(n) for n in names})
    n_windows = sum(len(truths[n].windows) for n in names)
    folds: dict[str, Any] = {}
    pooled = pooled_opt = 0.0
    for held in cats:
        train = [n for n in names if category(n) != held]
        test = [n for n in names if category(n) == held]
        best: tuple[float, str, float] | None = None
        for variant, by_file in scores.items():
            theta, raw, _ = optimise([(truths[n], by_file[n]) for n in train], profile)
            if best is None or raw > best[0] + 1e-9:
                best = (raw, variant, theta)
        assert best is not None
        fit, variant, theta = best
        tw = sum(len(truths[n].windows) for n in train)
        held_files = [(truths[n], scores[variant][n]) for n in test]
        _, raw, counts = optimise(held_files, profile, fixed=theta)
        _, raw_opt, _ = optimise(held_files, profile)
        pooled += raw
        pooled_opt += raw_opt
        w = sum(len(truths[n].windows) for n in test)
        folds[held] = {
            "variant": variant,
            "threshold": round(float(theta), 6),
            "train_score": round(float(normalise(fit, tw, profile)), 2),
            "held_out_score": round(float(normalise(raw, w, profile)), 2) if w else None,
            "held_out_raw": round(float(raw), 3),
            "held_out_optimised": round(float(normalise(raw_opt, w, profile)), 2) if w else None,
            "windows": w,
            "detected": counts["detected"],
            "false_positive_rows": counts["false_positive_rows"],
        }
    return {
        "pooled": round(float(normalise(pooled, n_windows, profile)), 2),
        "pooled_held_out_optimised": round(float(normalise(pooled_opt, n_windows, profile)), 2),
        "folds": folds,
    }
