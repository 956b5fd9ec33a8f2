"""NAB scoring, written from the spec in ../shared/nab/README.md.

Per file: probation P = min(floor(0.15 n), 750) rows ignored; the scaled sigmoid
weights rows inside windows (earliest detection earns most) and penalises
detections outside windows (less so just after a window ends); each window
counts once (its best detection, or -A_FN); one threshold per profile is chosen
over all files (candidates: 1.1 and every distinct non-probation score, highest
wins ties); the sum is normalised between the null and the perfect detector.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROFILES: dict[str, tuple[float, float, float]] = {}  # name -> (A_TP, A_FP, A_FN)


def load_profiles(root: Path) -> dict[str, tuple[float, float, float]]:
    data = json.loads((root / "profiles.json").read_text(encoding="utf-8"))
    return {
        name: (
            float(v["CostMatrix"]["tpWeight"]),
            float(v["CostMatrix"]["fpWeight"]),
            float(v["CostMatrix"]["fnWeight"]),
        )
        for name, v in data.items()
    }


def sigma(x: float) -> float:
    if x > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


@dataclass(frozen=True)
class FileTruth:
    name: str
    n: int
    probation: int
    windows: list[tuple[int, int]]  # inclusive row indices


def truth_for(name: str, timestamps: pd.Series, windows: list[list[str]]) -> FileTruth:
    n = len(timestamps)
    ts = pd.to_datetime(timestamps)
    idx = {t: i for i, t in enumerate(ts)}
    wins = []
    for start, end in windows:
        lo, hi = idx[pd.Timestamp(start)], idx[pd.Timestamp(end)]
        wins.append((lo, hi))
    return FileTruth(name, n, min(math.floor(0.15 * n), 750), sorted(wins))


_WEIGHTS: dict[tuple[str, int, tuple[tuple[int, int], ...], float, float], tuple[np.ndarray, np.ndarray]] = {}


def row_weights(truth: FileTruth, a_tp: float, a_fp: float) -> tuple[np.ndarray, np.ndarray]:
    """(weight per row, window id per row or -1); memoised (leave-one-out tuning asks for them many times)."""
    key = (truth.name, truth.n, tuple(truth.windows), a_tp, a_fp)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = _row_weights(truth, a_tp, a_fp)
    return _WEIGHTS[key]


def _row_weights(truth: FileTruth, a_tp: float, a_fp: float) -> tuple[np.ndarray, np.ndarray]:
    n = truth.n
    w = np.empty(n)
    win = np.full(n, -1)
    s_m1 = sigma(-1.0)
    for k, (lo, hi) in enumerate(truth.windows):
        width = hi - lo + 1
        for i in range(lo, hi + 1):
            w[i] = sigma(-(hi - i + 1) / width) * a_tp / s_m1
            win[i] = k
    last_end: tuple[int, int] | None = None
    wins = iter(truth.windows)
    nxt = next(wins, None)
    for i in range(n):
        while nxt is not None and nxt[1] < i:
            last_end = nxt
            nxt = next(wins, None)
        if win[i] >= 0:
            continue
        if last_end is None:
            w[i] = -a_fp
        else:
            lo, hi = last_end
            width = hi - lo + 1
            x = abs(i - hi) / (width - 1) if width > 1 else 4.0
            w[i] = sigma(x) * a_fp
    return w, win


def optimise(
    files: list[tuple[FileTruth, np.ndarray]], profile: tuple[float, float, float], fixed: float | None = None
) -> tuple[float, float, dict[str, int]]:
    """(best threshold, raw score S, counts) over all files; with ``fixed`` just score that threshold."""
    a_tp, a_fp, a_fn = profile
    events_score: list[np.ndarray] = []
    events_w: list[np.ndarray] = []
    events_win: list[np.ndarray] = []
    n_windows = 0
    for truth, scores in files:
        w, win = row_weights(truth, a_tp, a_fp)
        p = truth.probation
        s = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)[p:]
        events_score.append(s)
        events_w.append(w[p:])
        gwin = np.where(win[p:] >= 0, win[p:] + n_windows, -1)
        events_win.append(gwin)
        n_windows += len(truth.windows)
    score = np.concatenate(events_score)
    weight = np.concatenate(events_w)
    window = np.concatenate(events_win)
    if fixed is not None:
        keep = score >= fixed
        return fixed, _total(weight[keep], window[keep], n_windows, a_fn), _counts(window[keep], n_windows)
    order = np.argsort(-score)  # the order inside a run of equal scores does not change the run's total
    score, weight, window = score[order], weight[order], window[order]
    # Sweep the threshold down through the sorted scores in one vectorised pass: a row outside
    # every window adds its weight; a row inside window k adds how much it raises the best
    # weight of k so far (which starts at -A_FN). The candidates are the ends of runs of equal
    # scores; the first (highest) one with the largest total wins, as NAB's optimiser does.
    gain = np.where(window < 0, weight, 0.0)
    inside = np.nonzero(window >= 0)[0]
    if len(inside):
        by_window = inside[np.argsort(window[inside], kind="stable")]  # grouped by window, in sweep order
        k = window[by_window]
        lift = 2.0 * (float(np.abs(weight[by_window]).max()) + a_fn + 1.0) * k  # makes each group exceed the last
        best_so_far = np.maximum.accumulate(weight[by_window] + lift) - lift  # running best within each window
        first = np.append(True, k[1:] != k[:-1])
        before = np.where(first, -a_fn, np.append(-a_fn, best_so_far[:-1]))
        gain[by_window] = np.maximum(best_so_far, -a_fn) - np.maximum(before, -a_fn)
    totals = -a_fn * n_windows + np.cumsum(gain)
    ends = np.nonzero(np.append(score[1:] != score[:-1], True))[0] if len(score) else np.zeros(0, dtype=int)
    best_total, best_theta = -a_fn * n_windows, 1.1
    if len(ends):
        j = int(ends[np.argmax(totals[ends])])
        if totals[j] > best_total + 1e-12:
            best_total, best_theta = float(totals[j]), float(score[j])
    keep = score >= best_theta
    return best_theta, best_total, _counts(window[keep], n_windows)


def _total(weight: np.ndarray, window: np.ndarray, n_windows: int, a_fn: float) -> float:
    total = float(weight[window < 0].sum())
    best = np.full(n_windows, -a_fn)
    for w, k in zip(weight[window >= 0], window[window >= 0], strict=True):
        best[k] = max(best[k], w)
    return total + float(best.sum())


def _counts(window: np.ndarray, n_windows: int) -> dict[str, int]:
    detected = len(set(window[window >= 0].tolist()))
    return {"windows": n_windows, "detected": detected, "false_positive_rows": int((window < 0).sum())}


def normalise(raw: float, n_windows: int, profile: tuple[float, float, float]) -> float:
    a_tp, _, a_fn = profile
    perfect, null = a_tp * n_windows, -a_fn * n_windows
    return 100.0 * (raw - null) / (perfect - null)
