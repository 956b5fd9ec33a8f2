"""Speed of the cost scorer (detectors/anomaly/cost.py), against numpy's own helpers, in the same run.

The cost profile's per-day loop spends its time in small numpy calls on arrays of a few dozen values:
medians, means, Theil-Sen pairs, the monthly anniversaries of a day. The model computes them with its
own helpers (``cost._median``: a NaN median by one sort, issue 16 round 3; ``_fmed``, ``_mean``,
``_pairs``, and ``_anniversaries`` cached: issue 24, the detect run of ``bench/scale``). This benchmark
scores the same generated series (bench/cost_scenarios' generator: 730-day daily totals with a gap every
37th day, and 100-day windows of them, the history a detect run scores) through ``score_timeseries``
twice: with the model's helpers, and with the reference implementations patched in as the baseline
(np.nanmedian, np.median, np.mean, np.triu_indices, the anniversaries recomputed every row). Every
score, verdict, expected value, scale, reason, rebase and recurring amount must be identical; ``ratio``
is baseline CPU seconds over current. ``reference_helpers`` is what tests/detectors/anomaly checks too.
Measured (``VIGIL_BENCH_SCALE=1``, 144 series): 2.9 s against 14.8 s, ratio 5.1, identical outputs. The
model before issue 24's helpers took 18.3 s of CPU where it now takes 8.1 s, on 280 such series, with
the same outputs bit for bit (docs/cost-scale.md).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np

GOAL_RATIO = 1.5  # at least 1.5x less CPU than numpy's own helpers, same verdicts
FIELDS = ("score", "is_anomaly", "expected", "scale", "rebased", "recurring")


def _nanmedian(a: Any, axis: int | None = None, *, has_nan: bool) -> Any:
    """np.nanmedian (which gives np.median's values where nothing is missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(a, axis=axis), dtype=np.float64)


def _references() -> dict[str, Callable[..., Any]]:
    from detectors.anomaly import cost

    return {
        "_median": _nanmedian,
        "_fmed": lambda a, axis=None: np.asarray(np.median(a, axis=axis), dtype=np.float64),
        "_mean": lambda a: float(np.mean(a)),
        "_pairs": lambda n: np.triu_indices(n, k=1),
        "_anniversaries": cost._anniversaries.__wrapped__,  # uncached
    }


@contextmanager
def reference_helpers() -> Iterator[None]:
    """The cost model with numpy's reference implementations of its helpers patched in."""
    from detectors.anomaly import cost

    refs = _references()
    saved = {name: getattr(cost, name) for name in refs}
    try:
        for name, fn in refs.items():
            setattr(cost, name, fn)
        yield
    finally:
        for name, fn in saved.items():
            setattr(cost, name, fn)


def series(n: int) -> list[tuple[list[date], np.ndarray]]:
    """``n`` generated 730-day series with gaps, each also as 100-day windows (a detect run's history)."""
    from bench.cost_scenarios.generate import generate

    out = []
    for seed in range(n):
        s = generate(seed)
        x = s.daily_total.copy()
        x[::37] = np.nan
        d = s.dates()
        out.append((d, x))
        out.extend((d[k : k + 100], x[k : k + 100]) for k in range(0, 700, 150))
    return out


def identical(a: Any, b: Any) -> bool:
    """Two ``Scores`` of the same series agree in every output, bit for bit."""
    return a.reasons == b.reasons and all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in FIELDS)


def main() -> dict[str, Any]:
    from detectors.anomaly import score_timeseries

    scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
    n = max(4, round(24 * scale))
    todo = series(n)

    def run() -> tuple[float, list[Any]]:
        t0 = time.process_time()
        out = [score_timeseries(d, x, profile="cost", min_impact=50.0, provisional=3) for d, x in todo]
        return time.process_time() - t0, out

    current_s, current = run()
    with reference_helpers():
        baseline_s, baseline = run()
    same = all(identical(a, b) for a, b in zip(current, baseline, strict=True))
    ratio = round(baseline_s / current_s, 2) if current_s > 0 else None
    return {
        "name": "cost_scorer",
        "unit": "CPU seconds to score the series (daily: 730 days, and 100-day windows of them)",
        "value": round(current_s, 3),
        "baseline": round(baseline_s, 3),
        "ratio": ratio,
        "goal": GOAL_RATIO,
        "pass": bool(same and ratio is not None and ratio >= GOAL_RATIO),
        "identical_verdicts": same,
        "series": len(todo),
        "scale": scale,
    }
