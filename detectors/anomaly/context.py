"""Contextual novelty: how new is the recent pattern of quantised values?

In the spirit of the Contextual Anomaly Detector (CAD OSE) of NAB: values are
quantised into a few levels, the levels of the last rows form contexts of every
length up to ``orders``, and a row is novel to the degree that its (context ->
level) transitions were never seen before (a context of length k weighs
1 / (k + 1) ** ``order_power``, so the short, well sampled contexts count most).
Only contexts seen before count (a new transition out of a familiar context is
news; out of a context never met it is not), which keeps noisy series quiet while
the tables fill up. Everything is learnt
online: "seen before" means at an earlier row, so row t only uses rows up to t
(computed in one vectorised pass from first-occurrence indices, which gives the
same result as updating the tables row by row).

The quantisation is causal too: the value range is learnt on the first ``learn``
valid rows (widened by ``margin`` of the range each side) and then frozen. Later
values outside it fall into extra levels beyond the ends (at most ``overflow``
each side), which are novel by construction. Because a frozen range depends on
the rows it was learnt on, ``context_novelty_ensemble`` averages several
quantisations (levels x learning lengths x margins).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["ENSEMBLE", "ORDER_POWER", "context_novelty", "context_novelty_ensemble"]

FloatArray = npt.NDArray[np.float64]

# (levels, learn, margin): chosen on the NAB development subset only (bench/nab)
ENSEMBLE: tuple[tuple[int, int, float], ...] = tuple(
    (levels, learn, margin) for levels in (6, 8, 10) for learn in (150, 225, 300, 375, 450) for margin in (0.1, 0.2)
)
ORDER_POWER = 0.0  # fixed a priori, not tuned: every context length weighs alike (0.75 had been tuned on all 41 files)


def _earlier(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per position: the same key occurred at an earlier position."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(first[inverse.ravel()] < np.arange(len(keys)), dtype=bool)


def context_novelty(
    x: FloatArray,
    *,
    levels: int = 8,
    orders: int = 8,
    learn: int = 300,
    margin: float = 0.1,
    overflow: int = 8,
    order_power: float = 0.0,
) -> FloatArray:
    """Per-row novelty in [0, 1]; NaN until the range is learnt (and on NaN rows).

    Context length k (0..orders) weighs 1 / (k + 1) ** ``order_power``: 0 counts every
    length alike, larger values trust the short (well sampled) contexts more.
    """
    n = len(x)
    out = np.full(n, np.nan)
    valid = ~np.isnan(x)
    idx = np.nonzero(valid)[0]
    if len(idx) <= learn:
        return out
    first = x[idx[:learn]]
    lo, hi = float(np.min(first)), float(np.max(first))
    span = hi - lo
    if span <= 0:
        span = abs(hi) * 0.1 or 1.0
    lo -= margin * span
    step = span * (1 + 2 * margin) / levels
    q = (np.clip(np.floor((x[idx] - lo) / step), -overflow, levels - 1 + overflow) + overflow).astype(np.int64)
    base = levels + 2 * overflow  # codes of orders + 1 symbols stay far below 2**63 for any sane levels
    m = len(q)
    new = np.zeros(m)
    known = np.zeros(m)
    ctx = np.zeros(m, dtype=np.int64)  # ctx[i]: the k levels before valid row i as one integer
    for k in range(orders + 1):
        if k > 0:
            shifted = np.zeros(m, dtype=np.int64)
            shifted[1:] = ctx[:-1] * base + q[:-1]
            ctx = shifted
        c = ctx[k:]  # rows with k levels of history
        familiar = _earlier(c)  # the context was met before
        weight = 1.0 / (k + 1) ** order_power
        known[k:] += weight * familiar
        new[k:] += weight * (familiar & ~_earlier(c * base + q[k:]))  # ... but never followed by this level
    nov = np.divide(new, known, out=np.ones(m), where=known > 0)
    res = np.full(m, np.nan)
    res[learn:] = nov[learn:]
    out[idx] = res
    return out


def context_novelty_ensemble(
    x: FloatArray,
    configs: Iterable[tuple[int, int, float]] = ENSEMBLE,
    orders: int = 8,
    order_power: float = ORDER_POWER,
) -> FloatArray:
    """Mean novelty over all configurations, a configuration still learning its range
    counting 0; NaN until the first configuration has learnt its range."""
    total = np.zeros(len(x))
    active = np.zeros(len(x), dtype=bool)
    configs = list(configs)
    for levels, learn, margin in configs:
        nov = context_novelty(x, levels=levels, orders=orders, learn=learn, margin=margin, order_power=order_power)
        ok = ~np.isnan(nov)
        total[ok] += nov[ok]
        active |= ok
    return np.where(active, total / max(len(configs), 1), np.nan)
