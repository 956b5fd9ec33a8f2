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


def _novelty_row_by_row(x: np.ndarray, levels: int, learn: int, orders: int, power: float) -> np.ndarray:
    """Plain reference: transition tables updated one valid row at a time."""
    idx = np.nonzero(~np.isnan(x))[0]
    first = x[idx[:learn]]
    lo, hi = first.min(), first.max()
    span = hi - lo
    lo -= 0.1 * span
    step = span * 1.2 / levels
    out = np.full(len(x), np.nan)
    history: list[int] = []
    seen: set[tuple[int, ...]] = set()
    met: set[tuple[int, ...]] = set()
    for have, t in enumerate(idx):
        sym = int(np.clip(np.floor((x[t] - lo) / step), -8, levels + 7))
        new = known = 0.0
        for k in range(min(have, orders) + 1):
            ctx = (k, *history[len(history) - k :]) if k else (0,)
            w = 1.0 / (k + 1) ** power
            if ctx in met:
                known += w
                new += w * ((*ctx, sym) not in seen)
            met.add(ctx)
            seen.add((*ctx, sym))
        history.append(sym)
        if have >= learn:
            out[t] = new / known if known else 1.0
    return out


def test_vectorised_novelty_matches_row_by_row_tables() -> None:
    rng = np.random.default_rng(7)
    x = np.round(np.cumsum(rng.normal(0, 1, 700)) * 0.4, 1)
    x[[50, 51, 400]] = np.nan
    x[600] = 1e3
    for power in (0.0, 0.5):
        fast = context_novelty(x, levels=6, learn=120, orders=4, order_power=power)
        np.testing.assert_allclose(fast, _novelty_row_by_row(x, 6, 120, 4, power), equal_nan=True)


def test_order_power_trusts_short_contexts_more() -> None:
    x = _pattern(600)
    x[550] = 1.0  # a familiar level after a familiar short context, new only after longer ones
    flat = context_novelty(x, levels=8, learn=100)
    weighted = context_novelty(x, levels=8, learn=100, order_power=1.0)
    assert 0.0 < weighted[550] < flat[550] < 1.0
    assert weighted[500:549].max() == 0.0
