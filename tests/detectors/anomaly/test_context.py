from __future__ import annotations

import numpy as np

from detectors.anomaly.context import context_novelty, context_novelty_ensemble


def _pattern(n: int) -> np.ndarray:
    return np.tile([1.0, 2.0, 3.0, 4.0, 3.0, 2.0], n // 6 + 1)[:n]


def test_repeating_pattern_becomes_familiar_and_a_new_shape_is_novel() -> None:
    x = _pattern(600)
    x[500] = 9.0  # outside the learnt range
    x[550] = 1.0  # inside the range, but never after this context
    nov = context_novelty(x, levels=8, learn=100)
    assert np.isnan(nov[:100]).all()
    assert nov[150:500].max() == 0.0
    assert nov[500] == 1.0
    assert 0.0 < nov[550] < 1.0
    assert nov[590:].max() == 0.0


def test_novelty_is_causal_and_skips_nans() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 800)
    x[300:310] = np.nan
    full = context_novelty_ensemble(x)
    for cut in (200, 305, 501):
        np.testing.assert_array_equal(context_novelty_ensemble(x[:cut]), full[:cut])
    assert np.isnan(full[300:310]).all()
    ok = full[~np.isnan(full)]
    assert ok.min() >= 0.0
    assert ok.max() <= 1.0


def test_metric_profile_flags_a_pattern_break_inside_the_normal_range() -> None:
    from detectors.anomaly import score_series

    rng = np.random.default_rng(2)
    t = np.arange(3000)
    x = 50 + 40 * np.sin(2 * np.pi * t / 100) + rng.normal(0, 1, len(t))
    x[2400:2450] = 50 + rng.normal(0, 1, 50)  # flat where it should swing: no value is out of range
    s = score_series(x, profile="metric", period=100)
    assert s.is_anomaly[2400:2450].any()
    # the break outscores everything in the 1800 normal rows before it (at most one noise alarm there)
    assert np.nanmax(s.score[2400:2450]) > np.nanmax(s.score[600:2400])
    assert s.is_anomaly[600:2400].sum() <= 1


def test_hold_off_silences_the_rows_after_an_alarm_only() -> None:
    from detectors.anomaly.metric import hold_off

    s = np.array([0.1, 0.9, 0.8, np.nan, 0.7, 0.6, 0.9, 0.2, np.nan])
    out = hold_off(s, level=0.55, rows=3, factor=0.5)
    # row 1 alarms: rows 2..4 are halved (the NaN stays NaN); row 2 starts no hold-off of its own,
    # so row 5 is free again and alarms, silencing rows 6..8
    np.testing.assert_allclose(out, [0.1, 0.9, 0.4, np.nan, 0.35, 0.6, 0.45, 0.1, np.nan])
    # sequential: a prefix gets the same result
    np.testing.assert_array_equal(hold_off(s[:5], level=0.55, rows=3, factor=0.5), out[:5])
    assert np.array_equal(hold_off(s, level=0.55, rows=0, factor=0.5), s, equal_nan=True)
