"""NAB benchmark of Vigil's causal scorer (metric profile) on ../shared/nab.

Scores all 41 files with ``score_file`` - the very call ``vigil detect anomalies
--profile metric`` makes (``detectors.anomaly.score_timeseries``; a test checks the
CLI's output against it) - then with a windowed-Gaussian baseline in the same run,
and reports the NAB score for the three profiles, with the threshold optimised (as
NAB does) and with the threshold fixed in advance at ``FIXED_THRESHOLD`` (the
scorer's own ``is_anomaly`` cut-off).

Beside the development figure it prints the leave-one-category-out table
(bench/nab/loco.py: threshold and variant tuned on 4 categories, the 5th scored),
for the default profile, for the variant chosen per fold and for the baseline, and
lists every tuned constant with the data it was tuned on (``TUNED_CONSTANTS``).
``VIGIL_BENCH_NAB_VARIANTS=0`` skips the variants (LOCO of the default and the
baseline only).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.nab.scoring import load_profiles, normalise, optimise, truth_for

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "nab"
FIXED_THRESHOLD = 0.5  # chosen before looking at scores: the metric profile's is_anomaly cut-off
GOALS = {"standard": 75.89, "reward_low_FP_rate": 72.41, "reward_low_FN_rate": 79.36}
TIME_LIMIT_S = 60.0


def _files(root: Path) -> list[str]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    return sorted(labels)


def _vigil(path: str) -> tuple[str, np.ndarray, float]:
    frame = pd.read_csv(path)
    t0 = time.perf_counter()
    s = score_file(frame)
    return path, s, time.perf_counter() - t0


def score_file(frame: pd.DataFrame) -> np.ndarray:
    """The scores ``vigil detect anomalies --profile metric`` writes for a timestamp,value frame: the same call."""
    from detectors.anomaly import score_timeseries

    return score_timeseries(frame["timestamp"], frame["value"].to_numpy(dtype=float), profile="metric").score


def _gaussian(path: str) -> tuple[str, np.ndarray, float]:
    """Baseline: z of the value against the mean/std of the previous 1000 rows, as a Gaussian tail score."""
    x = pd.read_csv(path)["value"].to_numpy(dtype=float)
    t0 = time.perf_counter()
    s = pd.Series(x)
    mean = s.shift(1).rolling(1000, min_periods=30).mean()
    std = s.shift(1).rolling(1000, min_periods=30).std()
    z = ((s - mean).abs() / std.replace(0, np.nan)).fillna(0).to_numpy()
    score = np.array([1 - math.erfc(v / math.sqrt(2)) for v in z])
    return path, score, time.perf_counter() - t0


def _run(detector: Any, paths: list[str]) -> tuple[dict[str, np.ndarray], float]:
    t0 = time.perf_counter()
    workers = max(1, min(len(paths), os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        out = {p: s for p, s, _ in pool.map(detector, paths)}
    return out, time.perf_counter() - t0


def evaluate(scores: dict[str, np.ndarray], truths: dict[str, Any], root: Path) -> dict[str, Any]:
    profiles = load_profiles(root)
    files = [(truths[name], scores[name]) for name in truths]
    n_windows = sum(len(t.windows) for t, _ in files)
    out: dict[str, Any] = {}
    for pname, prof in profiles.items():
        theta, raw, counts = optimise(files, prof)
        _, raw_fixed, counts_fixed = optimise(files, prof, fixed=FIXED_THRESHOLD)
        out[pname] = {
            "optimised": round(float(normalise(raw, n_windows, prof)), 2),
            "threshold": round(float(theta), 6),
            "counts": counts,
            "fixed": round(float(normalise(raw_fixed, n_windows, prof)), 2),
            "fixed_threshold": FIXED_THRESHOLD,
            "counts_fixed": counts_fixed,
        }
    return out


def main(root: Path = ROOT) -> dict[str, Any]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    names = sorted(labels)
    scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
    if scale < 1:
        names = names[: max(5, math.ceil(len(names) * scale))]
    paths = {name: str(root / "data" / name) for name in names}
    truths = {}
    for name in names:
        ts = pd.read_csv(paths[name], usecols=["timestamp"])["timestamp"]
        truths[name] = truth_for(name, ts, labels[name])
    print(f"nab: scoring {len(names)} files", file=sys.stderr)
    vigil_raw, vigil_s = _run(_vigil, list(paths.values()))
    base_raw, base_seconds = _run(_gaussian, list(paths.values()))
    vigil = evaluate({n: vigil_raw[paths[n]] for n in names}, truths, root)
    base = evaluate({n: base_raw[paths[n]] for n in names}, truths, root)
    loco_table = _loco_table(
        names, paths, truths, root, {n: vigil_raw[paths[n]] for n in names}, {n: base_raw[paths[n]] for n in names}
    )
    rows = sum(t.n for t in truths.values())
    causal_ok = all(_causality_check(paths[names[k]]) for k in sorted({0, len(names) // 2, len(names) - 1}))
    beats = {p: bool(vigil[p]["optimised"] > g) for p, g in GOALS.items()}
    return {
        "name": "nab",
        "unit": "NAB score (standard profile, threshold optimised)",
        "value": vigil["standard"]["optimised"],
        "baseline": base["standard"]["optimised"],
        "ratio": round(vigil["standard"]["optimised"] / base["standard"]["optimised"], 3)
        if base["standard"]["optimised"]
        else None,
        "goal": GOALS["standard"],
        "pass": bool(all(beats.values()) and vigil_s <= TIME_LIMIT_S and causal_ok and scale >= 1),
        "description": "Vigil causal scorer (metric profile) on the NAB subset in ../shared/nab; baseline: windowed "
        "Gaussian measured in the same run; goals: best published detector on this subset per profile",
        "files": len(names),
        "windows": sum(len(t.windows) for t in truths.values()),
        "rows": rows,
        "seconds": round(vigil_s, 2),
        "baseline_seconds": round(base_seconds, 2),
        "rows_per_second": round(rows / vigil_s),
        "time_limit_s": TIME_LIMIT_S,
        "causal_prefix_check": causal_ok,
        "scores": {
            p: {"optimised": v["optimised"], "fixed_threshold": v["fixed"], "goal": GOALS[p], "beats_goal": beats[p]}
            for p, v in vigil.items()
        },
        "vigil": vigil,
        "baseline_detector": base,
        "leave_one_category_out": loco_table,
        "tuned_constants": TUNED_CONSTANTS,
        "scale": scale,
    }


# Every constant of the metric profile that was tuned, and the data it was tuned on.
TUNED_CONSTANTS = {
    "MetricParams (detectors/anomaly/metric.py): window, rank_window, damping_window, rank_power, z_scale, damping, "
    "context_weight, discord_weight, discord_length, discord_history, baseline_weight, baseline_quantile, "
    "baseline_window, holdoff, holdoff_level": "all 41 NAB development files (../shared/nab), by earlier work",
    "context.ENSEMBLE (levels x learn x margin), context.ORDER_POWER": "all 41 NAB development files, by earlier work",
    "alarm threshold": "per LOCO fold: the 4 training categories; development figure: all 41 files (NAB's optimiser)",
    "variant (bench/nab/loco.py VARIANTS)": "per LOCO fold: the 4 training categories",
    "FIXED_THRESHOLD = 0.5": "none (the scorer's is_anomaly cut-off, set before scoring)",
}


def _variant_job(job: tuple[str, str]) -> tuple[str, str, np.ndarray]:
    from bench.nab.loco import score_variant

    path, variant = job
    return path, variant, score_variant(path, variant)


def _loco_table(
    names: list[str],
    paths: dict[str, str],
    truths: dict[str, Any],
    root: Path,
    vigil: dict[str, np.ndarray],
    base: dict[str, np.ndarray],
) -> dict[str, Any]:
    """LOCO for the default profile alone, for the Gaussian baseline, and with the variant chosen per fold."""
    from bench.nab.loco import VARIANTS, category, loco

    if len({category(n) for n in names}) < 2:
        return {}
    profiles = load_profiles(root)
    by_variant: dict[str, dict[str, np.ndarray]] = {"default": vigil}
    if os.environ.get("VIGIL_BENCH_NAB_VARIANTS", "1") != "0":
        jobs = [(paths[n], v) for n in names for v in VARIANTS if v != "default"]
        print(f"nab: scoring {len(VARIANTS) - 1} variants for leave-one-category-out", file=sys.stderr)
        with ProcessPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
            inverse = {p: n for n, p in paths.items()}
            for path, variant, s in pool.map(_variant_job, jobs):
                by_variant.setdefault(variant, {})[inverse[path]] = s
    out: dict[str, Any] = {}
    for pname, prof in profiles.items():
        dev = {v: evaluate_one(s, truths, prof) for v, s in by_variant.items()}
        out[pname] = {
            "development_by_variant": dev,
            "loco_by_variant": {v: loco({v: s}, truths, prof)["pooled"] for v, s in by_variant.items()},
            "vigil_default": loco({"default": vigil}, truths, prof),
            "vigil_variant_chosen_per_fold": loco(by_variant, truths, prof),
            "baseline_gaussian": loco({"gaussian": base}, truths, prof),
        }
    _print_loco(out)
    return out


def evaluate_one(scores: dict[str, np.ndarray], truths: dict[str, Any], prof: tuple[float, float, float]) -> float:
    files = [(truths[n], scores[n]) for n in truths]
    _, raw, _ = optimise(files, prof)
    return round(float(normalise(raw, sum(len(t.windows) for t, _ in files), prof)), 2)


def _print_loco(table: dict[str, Any]) -> None:
    std = table["standard"]
    print("nab: leave-one-category-out (standard profile; threshold and variant tuned on the other 4)", file=sys.stderr)
    print(
        f"  {'held-out category':24} {'vigil default':>14} {'per-fold variant':>28} {'gaussian':>10}", file=sys.stderr
    )
    for cat, fold in std["vigil_default"]["folds"].items():
        chosen = std["vigil_variant_chosen_per_fold"]["folds"][cat]
        g = std["baseline_gaussian"]["folds"][cat]

        def fmt(f: dict[str, Any]) -> str:
            return str(f["held_out_score"]) if f["held_out_score"] is not None else f"raw {f['held_out_raw']}"

        print(
            f"  {cat:24} {fmt(fold):>14} {fmt(chosen) + ' (' + chosen['variant'] + ')':>28} {fmt(g):>10}",
            file=sys.stderr,
        )
    print(
        f"  {'pooled':24} {std['vigil_default']['pooled']:>14} {std['vigil_variant_chosen_per_fold']['pooled']:>28} "
        f"{std['baseline_gaussian']['pooled']:>10}",
        file=sys.stderr,
    )
    for v in std["development_by_variant"]:
        print(
            f"  variant {v:18} development {std['development_by_variant'][v]:6}  LOCO {std['loco_by_variant'][v]:6}",
            file=sys.stderr,
        )


def _causality_check(path: str) -> bool:
    """Scores of prefixes equal the full-series scores truncated, bit for bit (NaN where NaN)."""
    frame = pd.read_csv(path)
    full = score_file(frame)
    for cut in (len(frame) // 3 + 1, len(frame) * 2 // 3):
        part = score_file(frame.iloc[:cut])
        if not np.array_equal(full[:cut], part, equal_nan=True):
            return False
    return True
