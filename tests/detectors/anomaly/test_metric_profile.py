"""The metric profile through the one entry point: deterministic, and no lookahead (NAB's rule)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.anomaly import score_timeseries
from detectors.anomaly.metric import MetricParams, combine, metric_parts, score_metric


def _five_minute_series(n: int, seed: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A daily cycle on 5-minute rows (period 288) with noise: every part of the profile is active."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 50 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, n)
    ts = pd.date_range("2026-01-05", periods=n, freq="5min", tz="UTC")
    return ts, x


def test_metric_scores_do_not_change_when_future_rows_are_appended() -> None:
    ts, x = _five_minute_series(3000, seed=1)
    x[2200:2230] += 60  # an event in the appended part
    x[2600] = np.nan
    full = score_timeseries(ts, x, profile="metric")
    assert np.isfinite(full.score[1500:2200]).all()
    # cuts inside discord blocks (1024 rows), before and after the novelty ranges are learnt
    for cut in (100, 460, 1023, 1500, 2210):
        part = score_timeseries(ts[:cut], x[:cut], profile="metric")
        np.testing.assert_array_equal(part.score, full.score[:cut])
        np.testing.assert_array_equal(part.is_anomaly, full.is_anomaly[:cut])
        assert part.reasons == full.reasons[:cut]


def test_metric_scores_are_deterministic() -> None:
    ts, x = _five_minute_series(2000, seed=2)
    x[1500] += 80
    a = score_timeseries(ts, x, profile="metric")
    b = score_timeseries(ts, x.copy(), profile="metric")
    np.testing.assert_array_equal(a.score, b.score)
    assert a.is_anomaly[1500]


def test_combine_on_parts_is_the_scorer() -> None:
    """bench/nab re-tunes the combination constants on cached parts; that must be the scorer's own arithmetic."""
    _, x = _five_minute_series(1500, seed=3)
    x[1200] += 70
    p = MetricParams(period=288)
    np.testing.assert_array_equal(combine(metric_parts(x, p), p), score_metric(x, p)[0])
