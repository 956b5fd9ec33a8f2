"""Speed of the cost scorer (detectors/anomaly/cost.py), against its previous NaN median, in the same run.

The cost profile's per-day loop took most of its time in ``np.nanmedian``, which goes through
masked arrays on small inputs. Round 3 of issue 16 replaced it with a median by one sort
(``cost._median``). This benchmark scores the same generated series (bench/cost_scenarios'
generator, daily totals with a gap every 37th day) through ``score_timeseries`` twice: with the
current median, and with ``np.nanmedian`` patched back in as the baseline. Every score, verdict,
expected value and scale must be identical; ``ratio`` is baseline CPU seconds over current.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np

GOAL_RATIO = 1.5  # at least 1.5x less CPU than the previous median, same verdicts


def _nanmedian(a: Any, axis: int | None = None, *, has_nan: bool) -> Any:
    """The implementation before round 3: np.nanmedian whenever a value may be missing."""
    from detectors.anomaly.cost import _fmed

    if not has_nan:
        return _fmed(a, axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(a, axis=axis), dtype=np.float64)


def main() -> dict[str, Any]:
    from bench.cost_scenarios.generate import generate
    from detectors.anomaly import cost, score_timeseries

    scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
    n = max(4, round(24 * scale))
    series = []
    for seed in range(n):
        s = generate(seed)
        x = s.daily_total.copy()
        x[::37] = np.nan
        series.append((s.dates(), x))

    def run() -> tuple[float, list[Any]]:
        t0 = time.process_time()
        out = [score_timeseries(d, x, profile="cost", min_impact=50.0, provisional=3) for d, x in series]
        return time.process_time() - t0, out

    current_s, current = run()
    original = cost._median
    cost._median = _nanmedian
    try:
        baseline_s, baseline = run()
    finally:
        cost._median = original
    identical = all(
        np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) and a.reasons == b.reasons
        for a, b in zip(current, baseline, strict=True)
        for f in ("score", "is_anomaly", "expected", "scale")
    )
    ratio = round(baseline_s / current_s, 2) if current_s > 0 else None
    return {
        "name": "cost_scorer",
        "unit": "CPU seconds to score the series (daily, 730 days each)",
        "value": round(current_s, 3),
        "baseline": round(baseline_s, 3),
        "ratio": ratio,
        "goal": GOAL_RATIO,
        "pass": bool(identical and ratio is not None and ratio >= GOAL_RATIO),
        "identical_verdicts": identical,
        "series": n,
        "scale": scale,
    }
