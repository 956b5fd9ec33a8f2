"""Leave-one-category-out (LOCO) figures for bench/nab: tune on 4 of the 5 categories, score the 5th.

What is "tuned" per fold, on the 4 training categories only:

- the alarm threshold (as NAB's optimiser does, but over the training files), and
- the variant of the metric profile (``VARIANTS``: the current default and the same
  model with each tuned correction switched off, and with all of them off).

The held-out category is then scored with that threshold and variant. The pooled
LOCO score sums the held-out raw scores of the 5 folds and normalises them over all
windows, so it is comparable with the development figure (which optimises one
threshold on all 41 files at once). A category without windows
(artificialNoAnomaly) can only lose points to false positives; it has no score of
its own, so the table shows its raw penalty.

Caveat, stated in the output: the constants inside ``MetricParams`` and
detectors/anomaly/context.py (windows, rank power, ensemble) were chosen by earlier
work on all 41 development files; the LOCO figures re-tune only the threshold and
the variant, so they still carry that earlier fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.nab.scoring import FileTruth, normalise, optimise

# name -> MetricParams overrides ({} is the default profile)
VARIANTS: dict[str, dict[str, float]] = {
    "default": {},
    "no_holdoff": {"holdoff": 0},
    "no_busy_discount": {"baseline_weight": 0.0},
    "no_discord": {"discord_weight": 0.0},
    "no_damping": {"damping": 1.0},
    "order_power_0": {"order_power": 0.0},
    "plain": {"holdoff": 0, "baseline_weight": 0.0, "discord_weight": 0.0, "damping": 1.0, "order_power": 0.0},
}


def category(name: str) -> str:
    return name.split("/", 1)[0]


def score_variant(path: str, variant: str) -> np.ndarray:
    """Scores of one file with one variant: the same call as the CLI, with the variant's overrides."""
    from detectors.anomaly.metric import MetricParams, score_metric
    from detectors.anomaly.timeseries import rows_per_day

    frame = pd.read_csv(path)
    x = frame["value"].to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    params = MetricParams(period=rows_per_day(frame["timestamp"]), **VARIANTS[variant])  # type: ignore[arg-type]
    return score_metric(x, params)[0]


def loco(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    truths: Mapping[str, FileTruth],
    profile: tuple[float, float, float],
) -> dict[str, Any]:
    """Per held-out category: the variant and threshold chosen on the other categories, and its score."""
    names = sorted(truths)
    cats = sorted({category(n) for n in names})
    n_windows = sum(len(truths[n].windows) for n in names)
    folds: dict[str, Any] = {}
    pooled = 0.0
    for held in cats:
        train = [n for n in names if category(n) != held]
        test = [n for n in names if category(n) == held]
        best: tuple[float, str, float] | None = None
        for variant, by_file in scores.items():
            theta, raw, _ = optimise([(truths[n], by_file[n]) for n in train], profile)
            tw = sum(len(truths[n].windows) for n in train)
            fit = normalise(raw, tw, profile)
            if best is None or fit > best[0] + 1e-9:
                best = (fit, variant, theta)
        assert best is not None
        fit, variant, theta = best
        _, raw, counts = optimise([(truths[n], scores[variant][n]) for n in test], profile, fixed=theta)
        pooled += raw
        w = sum(len(truths[n].windows) for n in test)
        folds[held] = {
            "variant": variant,
            "threshold": round(float(theta), 6),
            "train_score": round(float(fit), 2),
            "held_out_score": round(float(normalise(raw, w, profile)), 2) if w else None,
            "held_out_raw": round(float(raw), 3),
            "windows": w,
            "detected": counts["detected"],
            "false_positive_rows": counts["false_positive_rows"],
        }
    return {"pooled": round(float(normalise(pooled, n_windows, profile)), 2), "folds": folds}
