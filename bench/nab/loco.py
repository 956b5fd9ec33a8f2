"""Honest leave-one-category-out (LOCO) figures for bench/nab: tune on 4 of the 5 categories, score the 5th.

Inside every fold, on the 4 training categories only, we choose:

- the parts constants ``window`` and ``discord_length`` of the metric profile, from
  ``PARTS_GRID``, together with
- every combination constant, from ``GRID`` (both regular grids fixed before they were
  first run: the full point is one of PARTS_GRID x GRID), and
- the alarm threshold (as NAB's optimiser does, but over the training files).

The held-out category is then scored with those values. The parts of the score
(``detectors.anomaly.metric.metric_parts``, the same code as the CLI) depend on the
PARTS_GRID constants, so they are computed once per file per PARTS_GRID point, and
``combine`` turns them into scores for every GRID point. bench/nab runs one process-pool
task per PARTS_GRID point (``parts_point_table``); each chooses its best GRID point per
fold (``fold_choices``), and ``pool_folds`` keeps, per fold, the first of those in grid
order whose training score beats every earlier one by more than 1e-9 (the same rule as
inside a task).

The pooled LOCO score sums the held-out raw scores of the 5 folds and normalises them
over all windows, so it is comparable with the development figure (which optimises the
constants and one threshold on all 41 files at once). ``held_out_optimised`` is the
held-out category scored with the constants of its fold but the threshold optimised on
the held-out files themselves: that is how the project lead scores the NAB categories
that are not in ../shared/nab. A category without windows (artificialNoAnomaly) can
only lose points to false positives; it has no score of its own, so the table shows
its raw penalty.

The constants that are NOT re-tuned per fold (among them ``discord_history`` and the
context ensemble) are listed in ``detectors.anomaly.metric.TUNED`` with the data they
were set on; the LOCO figure is optimistic in those.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
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


def parts_points() -> list[dict[str, int]]:
    return [dict(zip(PARTS_GRID, values, strict=True)) for values in itertools.product(*PARTS_GRID.values())]


def key(point: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in point.items())


def category(name: str) -> str:
    return name.split("/", 1)[0]


def grid_scores(path: str, parts: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Scores of one file for every GRID point at one PARTS_GRID point (the defaults when None).

    The CLI's parts with the parts constants of ``parts``, combined with each GRID point's
    constants; keyed by ``key`` of the full point (parts constants first).
    """
    from detectors.anomaly.metric import MetricParams, combine, metric_parts
    from detectors.anomaly.timeseries import rows_per_day

    frame = pd.read_csv(path)
    x = frame["value"].to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    params = MetricParams(period=rows_per_day(frame["timestamp"]))
    point: dict[str, int] = dict(parts) if parts is not None else default_parts()
    params = replace(params, **point)  # type: ignore[arg-type]
    computed = metric_parts(x, params)
    return {key({**point, **p}): combine(computed, replace(params, **p)) for p in grid_points()}  # type: ignore[arg-type]


def default_parts() -> dict[str, int]:
    """The CLI's values of the PARTS_GRID constants (MetricParams defaults)."""
    from detectors.anomaly.metric import MetricParams

    d = MetricParams()
    return {k: getattr(d, k) for k in PARTS_GRID}


def default_point() -> str:
    """``key`` of the CLI's point: MetricParams defaults for every PARTS_GRID and GRID constant."""
    from detectors.anomaly.metric import MetricParams

    d = MetricParams()
    return key({**default_parts(), **{k: getattr(d, k) for k in GRID}})


def parts_point_table(
    parts: Mapping[str, int],
    paths: Mapping[str, str],
    truths: Mapping[str, FileTruth],
    profiles: Mapping[str, tuple[float, float, float]],
) -> dict[str, Any]:
    """Everything the LOCO needs from one PARTS_GRID point (one process-pool task).

    Per profile: the fold choices among this point's GRID points (``fold_choices``) and the
    development score (threshold optimised on all files) of each full point. Also the scores
    of the CLI's point when ``parts`` is the default, to check the grid reproduces the CLI.
    """
    scores: dict[str, dict[str, np.ndarray]] = {}
    for name in sorted(truths):
        for k, s in grid_scores(paths[name], parts).items():
            scores.setdefault(k, {})[name] = s
    out: dict[str, Any] = {"parts": dict(parts), "profiles": {}, "default_scores": scores.get(default_point())}
    for pname, prof in profiles.items():
        out["profiles"][pname] = {
            "choices": fold_choices(scores, truths, prof),
            "development": {k: development(by_file, truths, prof) for k, by_file in scores.items()},
        }
    return out


def development(
    scores: Mapping[str, np.ndarray], truths: Mapping[str, FileTruth], prof: tuple[float, float, float]
) -> float:
    """NAB score on all files with the threshold optimised on them (the development figure)."""
    files = [(truths[n], scores[n]) for n in sorted(truths)]
    _, raw, _ = optimise(files, prof)
    return round(float(normalise(raw, sum(len(t.windows) for t, _ in files), prof)), 2)


def fold_choices(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, FileTruth],
    profile: tuple[float, float, float],
) -> dict[str, dict[str, Any]]:
    """Per held-out category: the point (of ``scores``) and threshold best on the other categories, and its held-out
    raw scores. The first point in order that beats every earlier one by more than 1e-9 wins."""
    names = sorted(truths)
    cats = sorted({category(n) for n in names})
    out: dict[str, dict[str, Any]] = {}
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
        held_files = [(truths[n], scores[variant][n]) for n in test]
        _, raw, counts = optimise(held_files, profile, fixed=theta)
        _, raw_opt, _ = optimise(held_files, profile)
        out[held] = {
            "variant": variant,
            "threshold": float(theta),
            "train_raw": float(fit),
            "train_windows": sum(len(truths[n].windows) for n in train),
            "held_out_raw": float(raw),
            "held_out_optimised_raw": float(raw_opt),
            "windows": sum(len(truths[n].windows) for n in test),
            "detected": counts["detected"],
            "false_positive_rows": counts["false_positive_rows"],
        }
    return out


def pool_folds(
    choices: Sequence[Mapping[str, Mapping[str, Any]]],
    truths: Mapping[str, FileTruth],
    profile: tuple[float, float, float],
) -> dict[str, Any]:
    """Merge ``fold_choices`` of disjoint sets of points (in grid order) with the same rule, and pool the folds."""
    n_windows = sum(len(t.windows) for t in truths.values())
    folds: dict[str, Any] = {}
    pooled = pooled_opt = 0.0
    for held in choices[0]:
        best: Mapping[str, Any] | None = None
        for c in choices:
            if best is None or c[held]["train_raw"] > best["train_raw"] + 1e-9:
                best = c[held]
        assert best is not None
        pooled += best["held_out_raw"]
        pooled_opt += best["held_out_optimised_raw"]
        w = best["windows"]
        folds[held] = {
            "variant": best["variant"],
            "threshold": round(best["threshold"], 6),
            "train_score": round(float(normalise(best["train_raw"], best["train_windows"], profile)), 2),
            "held_out_score": round(float(normalise(best["held_out_raw"], w, profile)), 2) if w else None,
            "held_out_raw": round(best["held_out_raw"], 3),
            "held_out_optimised": round(float(normalise(best["held_out_optimised_raw"], w, profile)), 2) if w else None,
            "windows": w,
            "detected": best["detected"],
            "false_positive_rows": best["false_positive_rows"],
        }
    return {
        "pooled": round(float(normalise(pooled, n_windows, profile)), 2),
        "pooled_held_out_optimised": round(float(normalise(pooled_opt, n_windows, profile)), 2),
        "folds": folds,
    }


def loco(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, FileTruth],
    profile: tuple[float, float, float],
) -> dict[str, Any]:
    """Per held-out category: the point and threshold chosen on the other categories, and its score."""
    return pool_folds([fold_choices(scores, truths, profile)], truths, profile)
