"""Contextual novelty: how new is the recent pattern of quantised values?

In the spirit of the Contextual Anomaly Detector (CAD OSE) of NAB: values are
quantised into a few levels, the levels of the last rows form contexts of every
length up to ``orders``, and a row is novel to the degree that its (context ->
level) transitions were never seen before. Only contexts seen before count (a new
transition out of a familiar context is news; out of a context never met it is
not), which keeps noisy series quiet while the tables fill up. Everything is learnt
online, row by row, so row t only uses rows up to t.

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

__all__ = ["ENSEMBLE", "context_novelty", "context_novelty_ensemble"]

FloatArray = npt.NDArray[np.float64]

# (levels, learn, margin): chosen on the NAB development subset only (bench/nab)
ENSEMBLE: tuple[tuple[int, int, float], ...] = tuple(
    (levels, learn, margin) for levels in (6, 8, 10) for learn in (150, 225, 300, 375, 450) for margin in (0.1, 0.2)
)


def context_novelty(
    x: FloatArray,
    *,
    levels: int = 8,
    orders: int = 8,
    learn: int = 300,
    margin: float = 0.1,
    overflow: int = 8,
) -> FloatArray:
    """Per-row novelty in [0, 1]; NaN until the range is learnt (and on NaN rows)."""
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
    with np.errstate(invalid="ignore"):
        raw = np.floor((np.where(valid, x, lo) - lo) / step)
    q = (np.clip(raw, -overflow, levels - 1 + overflow) + overflow).astype(np.int64)
    base = levels + 2 * overflow
    seen: list[set[int]] = [set() for _ in range(orders + 1)]  # (context, level) transitions
    known: list[set[int]] = [set() for _ in range(orders + 1)]  # contexts
    codes = [0] * (orders + 1)  # codes[k]: the last k levels as one integer (codes[0] = 0)
    start = int(idx[learn])
    for have, t in enumerate(idx.tolist()):  # have: levels already in the history
        sym = int(q[t])
        new = 0
        tot = 0
        for k in range(min(have, orders) + 1):
            ctx = codes[k]
            key = ctx * base + sym
            trans = seen[k]
            if ctx in known[k]:
                tot += 1
                if key not in trans:
                    new += 1
            else:
                known[k].add(ctx)
            trans.add(key)
        for k in range(orders, 0, -1):
            codes[k] = codes[k - 1] * base + sym
        if t >= start:
            out[t] = new / tot if tot else 1.0
    return out


def context_novelty_ensemble(
    x: FloatArray, configs: Iterable[tuple[int, int, float]] = ENSEMBLE, orders: int = 8
) -> FloatArray:
    """Mean novelty over all configurations, a configuration still learning its range
    counting 0; NaN until the first configuration has learnt its range."""
    total = np.zeros(len(x))
    active = np.zeros(len(x), dtype=bool)
    configs = list(configs)
    for levels, learn, margin in configs:
        nov = context_novelty(x, levels=levels, orders=orders, learn=learn, margin=margin)
        ok = ~np.isnan(nov)
        total[ok] += nov[ok]
        active |= ok
    return np.where(active, total / max(len(configs), 1), np.nan)
