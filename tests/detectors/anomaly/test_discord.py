from __future__ import annotations

import numpy as np

from detectors.anomaly.discord import discord_distance


def _brute(x: np.ndarray, length: int, history: int = 10**9) -> np.ndarray:
    """Plain reference: z-normalised nearest earlier non-overlapping subsequence."""
    out = np.full(len(x), np.nan)
    subs = []
    for end in range(length - 1, len(x)):
        w = x[end - length + 1 : end + 1]
        sd = w.std()
        subs.append((w - w.mean()) / (sd if sd > 1e-8 * max(1.0, abs(w.mean())) else 1.0))
        i = len(subs) - 1
        earlier = [np.linalg.norm(subs[i] - subs[j]) for j in range(max(0, i - length - history), i - length + 1)]
        if earlier:
            out[end] = min(earlier)
    return out


def test_matches_a_plain_nearest_neighbour_search() -> None:
    rng = np.random.default_rng(3)
    x = np.sin(np.arange(300) / 5) + rng.normal(0, 0.1, 300)
    x[200:210] = 0.0  # a flat stretch: a shape never seen before
    np.testing.assert_allclose(discord_distance(x, length=12, block=64), _brute(x, 12), rtol=1e-6, atol=1e-6)
    short = discord_distance(x, length=12, history=40, block=64)  # only the 40 + 1 latest candidates
    np.testing.assert_allclose(short, _brute(x, 12, history=40), rtol=1e-6, atol=1e-6)
    assert not np.allclose(short, _brute(x, 12), equal_nan=True)


def test_a_new_shape_is_far_and_a_repeated_one_is_near() -> None:
    t = np.arange(2000)
    x = np.sin(2 * np.pi * t / 50)
    x[1500:1525] = x[1500]  # the swing stops: same values, a shape never seen
    d = discord_distance(x, length=20)
    assert np.nanmax(d[200:1500]) < 1e-6  # the pure sine repeats itself exactly
    assert d[1500:1545].max() > 1.0


def test_causal_and_nan_rows_are_skipped() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, 900)
    x[400:405] = np.nan
    full = discord_distance(x, length=16, history=300, block=100)
    for cut in (50, 402, 700):
        np.testing.assert_array_equal(discord_distance(x[:cut], length=16, history=300, block=100), full[:cut])
    assert np.isnan(full[400:405]).all()
    assert np.isnan(full[:31]).all()  # no earlier non-overlapping subsequence yet
    assert not np.isnan(full[31])
    assert np.isnan(discord_distance(x[:20], length=16)).all()


def test_prefix_distances_are_bit_identical() -> None:
    # matrix products of different shapes may round differently: the fixed block shape prevents it
    rng = np.random.default_rng(6)
    x = np.sin(np.arange(3000) / 7) + rng.normal(0, 0.3, 3000)
    full = discord_distance(x)
    for cut in (754, 1030, 1500, 2999):
        np.testing.assert_array_equal(discord_distance(x[:cut]), full[:cut])
