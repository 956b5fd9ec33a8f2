"""Shape discords: how unlike everything before is the shape of the last few rows?

For each row t, the last ``length`` valid values form a subsequence, z-normalised
(mean 0, standard deviation 1; a flat one stays all zeros) so that only its shape
counts, not its level or amplitude (the robust z-scores of metric.py cover those).
Its discord distance is the Euclidean distance to its nearest neighbour among the
earlier subsequences that do not overlap it (they end before it starts), looking
back at most ``history`` subsequences. A shape seen before is close to something;
a new shape (a missing swing, a plateau where the series should fall) is far from
everything. Only earlier rows are compared, so row t uses rows up to t.

The distances are computed in blocks as one matrix product per block
(|a - b|^2 = |a|^2 + |b|^2 - 2 a.b), which keeps the cost at
rows x ``history`` x ``length`` multiply-adds. Blocks start at fixed multiples of
``block`` and always have the same shape (the last one is zero-padded), so a row's
distance is computed by exactly the same arithmetic whatever the series length:
the scores of a prefix equal the whole series' scores bit for bit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["discord_distance"]

FloatArray = npt.NDArray[np.float64]


def discord_distance(x: FloatArray, *, length: int = 20, history: int = 5000, block: int = 1024) -> FloatArray:
    """Per-row nearest-neighbour distance of the last ``length`` valid values' shape.

    NaN on NaN rows and until a first non-overlapping earlier subsequence exists.
    """
    n = len(x)
    out = np.full(n, np.nan)
    idx = np.nonzero(~np.isnan(x))[0]
    v = x[idx]
    if len(v) < 2 * length:
        return out
    windows = sliding_window_view(v, length)  # window i covers valid rows i .. i + length - 1
    mu = windows.mean(axis=1, keepdims=True)
    sd = windows.std(axis=1, keepdims=True)
    flat = sd <= 1e-8 * np.maximum(1.0, np.abs(mu))
    w = (windows - mu) / np.where(flat, 1.0, sd)
    count = len(w)
    padded = -(-count // block) * block
    w = np.vstack([w, np.zeros((padded - count, length))])
    sq = (w**2).sum(axis=1)
    nearest = np.full(padded, np.inf)
    for lo in range(0, padded, block):
        hi = lo + block
        first = max(0, lo - history - length)
        d2 = sq[lo:hi, None] + sq[None, first:hi] - 2.0 * (w[lo:hi] @ w[first:hi].T)
        i = np.arange(lo, hi)[:, None]
        j = np.arange(first, hi)[None, :]
        allowed = (j <= i - length) & (j >= i - length - history)
        nearest[lo:hi] = np.where(allowed, d2, np.inf).min(axis=1)
    dist = np.sqrt(np.maximum(nearest[:count], 0.0))
    out[idx[length - 1 :]] = np.where(np.isfinite(dist), dist, np.nan)
    return out
