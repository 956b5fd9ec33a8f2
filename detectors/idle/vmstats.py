"""Window statistics of VMs, computed once per ``detect`` call and shared by the VM rules.

For a lookback of ``days`` before ``now`` it computes per VM, from the hourly
``Percentage CPU`` series: the number of hours with data, the sorted hourly "high"
(maximum, else average) CPU values (to read any percentile, linear interpolation
as numpy's default), the max of hourly average CPU over the last ``recent_days``;
and from ``Network Out Total`` the sorted hourly totals. Points without values are
gaps (NaN), never zeros.

Two paths give identical figures (tests/detectors/idle/test_columnar.py compares them):

* **columnar** (series that carry :class:`core.sources.SeriesColumns`, as the parser
  builds them): the CPU columns of all VMs are concatenated once, the window of each VM
  found with a few vectorised reductions (points are in time order), the window values
  laid out as one VM x hour matrix (NaN-padded) and sorted row-wise by numpy; a
  percentile is then one vectorised interpolation for all VMs (numpy's default linear
  method, the same arithmetic as the points path). Network Out values are sorted only
  for the VMs a rule asks about.
* **points** (series without columns, e.g. built by hand): slicing the time-ordered
  points by binary search and C-level list building, ``sorted`` and ``max``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from core.sources import MetricPoint, MetricSeries, epoch_us
from detectors.idle.common import interval_hours, window

__all__ = ["CPU", "NET_OUT", "ColumnWindow", "VmWindow", "cpu_failing", "vm_windows"]

CPU = "Percentage CPU"
NET_OUT = "Network Out Total"


class VmWindow:
    """One VM's figures over one lookback window.

    The values are sorted once, on the first percentile asked, and reused (P95 and P99
    of the same window); linear interpolation as numpy's default.
    """

    __slots__ = (
        "_net",
        "_net_top",
        "_net_window",
        "_top",
        "_values",
        "cpu_hours",
        "expected_points",
        "max_recent_avg",
        "net_expected_points",
        "net_hours_per_point",
    )

    def __init__(  # noqa: PLR0917 - a record
        self,
        values: list[float],
        expected_points: float,
        max_recent_avg: float | None,
        net_window: Sequence[MetricPoint],
        net_expected_points: float,
        net_hours_per_point: float,
    ) -> None:
        self._values = values  # hourly max CPU (average where the max is missing), gaps dropped
        self.cpu_hours = len(values)
        self.expected_points = expected_points
        self.max_recent_avg = max_recent_avg
        self._net_window = net_window  # Network Out Total points, read only when a rule asks
        self._net: list[float] | None = None
        self.net_expected_points = net_expected_points
        self.net_hours_per_point = net_hours_per_point
        self._top: list[float] = []
        self._net_top: list[float] = []

    def _net_values(self) -> list[float]:
        if self._net is None:
            self._net = _present([p.total for p in self._net_window])  # hourly totals, gaps dropped
        return self._net

    @property
    def net_points(self) -> int:
        return len(self._net_values())

    def percentile(self, q: float) -> float:
        value, self._top = _pct(self._values, self._top, q)
        return value

    def net_percentile(self, q: float) -> float | None:
        values = self._net_values()
        if not values:
            return None
        value, self._net_top = _pct(values, self._net_top, q)
        return value


def _pct(values: list[float], top: list[float], q: float) -> tuple[float, list[float]]:
    """Linear-interpolated percentile from the largest values (``top``: descending, reused across calls)."""
    n = len(values)
    pos = (n - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    if not top:
        top = sorted(values, reverse=True)  # C sort of ~168 floats beats a Python-level heap selection
    a, b = top[n - 1 - lo], top[n - 1 - hi]
    return a + (b - a) * (pos - lo), top


_TS = attrgetter("timestamp")


def _present(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None] if None in values else values  # type: ignore[return-value]


def vm_windows(
    vm_ids: Iterable[str],
    metrics: Mapping[str, Sequence[MetricSeries]],
    now: datetime,
    days: int,
    recent_days: int,
    *,
    columnar: bool = True,
) -> dict[str, VmWindow | ColumnWindow]:
    """Window statistics per VM id; ``columnar=False`` forces the points path (for comparisons)."""
    cpu_name, net_name = CPU.lower(), NET_OUT.lower()
    pairs: list[tuple[str, MetricSeries | None, MetricSeries | None]] = []
    for rid in vm_ids:
        cpu = net = None
        for s in metrics.get(rid, ()):
            name = s.name.lower()
            if name == cpu_name and cpu is None:
                cpu = s
            elif name == net_name and net is None:
                net = s
        pairs.append((rid, cpu, net))
    out: dict[str, VmWindow | ColumnWindow] = {}
    if columnar:
        cols = [p for p in pairs if p[1] is not None and p[1].columns is not None and len(p[1].columns)]
        if cols:
            out.update(_column_windows(cols, now, days, recent_days))
    rest = [p for p in pairs if p[0] not in out]
    out.update(_point_windows(rest, now, days, recent_days))
    return out


def _point_windows(
    pairs: Iterable[tuple[str, MetricSeries | None, MetricSeries | None]], now: datetime, days: int, recent_days: int
) -> dict[str, VmWindow]:
    start = now - timedelta(days=days)
    recent_start = now - timedelta(days=recent_days)
    out: dict[str, VmWindow] = {}
    for rid, cpu, net in pairs:
        pts = window(cpu, start, now)
        highs: list[float | None] = [p.maximum for p in pts]
        if None in highs:
            highs = [p.maximum if p.maximum is not None else p.average for p in pts]
        values = _present(highs)
        recent = _present([p.average for p in pts[bisect_left(pts, recent_start, key=_TS) :]])
        per = interval_hours(net)
        out[rid] = VmWindow(
            values,
            days * 24 / interval_hours(cpu),
            max(recent) if recent else None,
            window(net, start, now),
            days * 24 / per,
            per,
        )
    return out


# ----------------------------------------------------------------------------- columnar path


class _CpuTable:
    """The CPU windows of many VMs as one NaN-padded matrix, sorted row-wise (NaN last), and the
    per-VM figures beside it; :class:`ColumnWindow` objects are thin views on one row."""

    def __init__(  # noqa: PLR0917 - a record
        self,
        pairs: Sequence[tuple[str, MetricSeries | None, MetricSeries | None]],
        ordered: Any,
        counts: Any,
        max_recent: Any,
        net_window: tuple[datetime, datetime],
        days: int,
    ) -> None:
        self.pairs = pairs  # row -> (VM id, CPU series, Network Out series)
        self.rids = [p[0] for p in pairs]
        self.ordered = ordered  # float64 (vms, width), ascending per row, NaN padding at the end
        self.counts = counts  # int64 (vms,): values per row
        self.counts_l: list[int] = counts.tolist()
        self.max_recent = max_recent  # float64 (vms,): max hourly average over the recent days, NaN if none
        self.max_recent_l: list[float] = max_recent.tolist()
        self.net_window = net_window
        self.days = days
        self._pct: dict[float, list[float]] = {}
        self._arr: dict[float, Any] = {}

    def percentile(self, q: float) -> list[float]:
        """Linear-interpolated percentile of every row (the points path's arithmetic, vectorised)."""
        got = self._pct.get(q)
        if got is None:
            got = self._pct[q] = self.percentile_array(q).tolist()
        return got

    def percentile_array(self, q: float) -> Any:
        got = self._arr.get(q)
        if got is None:
            import numpy as np

            n = self.counts
            pos = (n - 1) * q
            lo = np.floor(pos)
            hi = np.ceil(pos)
            rows = np.arange(len(n))
            lo_i = np.maximum(lo, 0).astype(np.int64)
            hi_i = np.maximum(hi, 0).astype(np.int64)
            a = self.ordered[rows, lo_i] if self.ordered.shape[1] else np.zeros(len(n))
            b = self.ordered[rows, hi_i] if self.ordered.shape[1] else np.zeros(len(n))
            got = self._arr[q] = a + (b - a) * (pos - lo)
        return got


def cpu_failing(
    windows: Mapping[str, VmWindow | ColumnWindow], q: float, max_percent: float, recent_max: float | None = None
) -> set[str]:
    """VMs of the columnar tables whose CPU test certainly fails (vectorised):
    ``not percentile(q) < max_percent`` or, with ``recent_max``, ``not max_recent_avg <= recent_max``.

    A rule whose verdict for such a VM can only be compliant (or no verdict) uses this to skip
    them in stateful mode, where a compliant verdict of a VM that was not firing is not reported.
    VMs of the points path are never in the set.
    """
    import numpy as np

    tables = {id(w._table): w._table for w in windows.values() if type(w) is ColumnWindow}
    out: set[str] = set()
    for table in tables.values():
        with np.errstate(invalid="ignore"):
            fails = ~(table.percentile_array(q) < max_percent)
            if recent_max is not None:
                fails |= ~(table.max_recent <= recent_max)  # NaN (no recent data) fails, as inf does
        rids = table.rids
        out.update(rids[i] for i in np.flatnonzero(fails).tolist())
    return out


class ColumnWindow:
    """One VM's figures over one lookback window: a view on one row of a :class:`_CpuTable`
    (same interface as :class:`VmWindow`)."""

    __slots__ = ("_net", "_row", "_table")

    def __init__(self, table: _CpuTable, row: int) -> None:
        self._table = table
        self._row = row
        self._net: Any = None

    @property
    def cpu_hours(self) -> int:
        return self._table.counts_l[self._row]

    @property
    def expected_points(self) -> float:
        return self._table.days * 24 / interval_hours(self._table.pairs[self._row][1])

    @property
    def max_recent_avg(self) -> float | None:
        m = self._table.max_recent_l[self._row]
        return None if math.isnan(m) else m

    @property
    def net_hours_per_point(self) -> float:
        return interval_hours(self._table.pairs[self._row][2])

    @property
    def net_expected_points(self) -> float:
        return self._table.days * 24 / self.net_hours_per_point

    def percentile(self, q: float) -> float:
        return self._table.percentile(q)[self._row]

    def _net_values(self) -> Any:
        if self._net is None:
            import numpy as np

            net = self._table.pairs[self._row][2]
            start, end = self._table.net_window
            if net is None:
                vals = np.empty(0)
            elif net.columns is not None:
                t = net.columns.time
                lo, hi = np.searchsorted(t, epoch_us(start)), np.searchsorted(t, epoch_us(end))
                vals = net.columns.total[int(lo) : int(hi)]
            else:
                vals = np.array([math.nan if p.total is None else p.total for p in window(net, start, end)])
            self._net = np.sort(vals[~np.isnan(vals)])
        return self._net

    @property
    def net_points(self) -> int:
        return len(self._net_values())

    def net_percentile(self, q: float) -> float | None:
        values = self._net_values()
        n = len(values)
        if not n:
            return None
        pos = (n - 1) * q
        lo, hi = math.floor(pos), math.ceil(pos)
        a, b = float(values[lo]), float(values[hi])
        return a + (b - a) * (pos - lo)


def _column_windows(
    pairs: Sequence[tuple[str, MetricSeries | None, MetricSeries | None]], now: datetime, days: int, recent_days: int
) -> dict[str, ColumnWindow]:
    import numpy as np

    start_us = epoch_us(now - timedelta(days=days))
    end_us = epoch_us(now)
    recent_us = max(start_us, epoch_us(now - timedelta(days=recent_days)))
    cols = [p[1].columns for p in pairs]  # type: ignore[union-attr]
    lengths = np.fromiter((len(c.time) for c in cols), dtype=np.int64, count=len(cols))  # type: ignore[union-attr]
    offsets = np.zeros(len(cols), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    time = np.concatenate([c.time for c in cols])  # type: ignore[union-attr]
    avg = np.concatenate([c.average for c in cols])  # type: ignore[union-attr]
    mx = np.concatenate([c.maximum for c in cols])  # type: ignore[union-attr]
    # Points are in time order within each series: the window is one contiguous run per VM.
    lo = offsets + np.add.reduceat((time < start_us).astype(np.int64), offsets)
    hi = offsets + np.add.reduceat((time < end_us).astype(np.int64), offsets)
    recent_lo = offsets + np.add.reduceat((time < recent_us).astype(np.int64), offsets)
    span = hi - lo
    # A VM with far more points in the window than the others (a finer grain) would blow up the
    # padded matrix: such VMs take the points path instead.
    cap = max(2 * int(np.median(span)), 1024)
    keep = span <= cap
    if not bool(keep.all()):
        pairs = [p for p, k in zip(pairs, keep.tolist(), strict=True) if k]
        lo, hi, recent_lo, span = lo[keep], hi[keep], recent_lo[keep], span[keep]
    width = int(span.max()) if len(span) else 0
    steps = np.arange(width, dtype=np.int64)
    idx = lo[:, None] + steps[None, :]
    inside = idx < hi[:, None]
    idx = np.minimum(idx, len(time) - 1)
    a_w, m_w = avg[idx], mx[idx]
    high = np.where(np.isnan(m_w), a_w, m_w)  # hourly max CPU, the average where the max is missing
    matrix = np.where(inside, high, np.nan)
    counts = (~np.isnan(matrix)).sum(axis=1)
    matrix.sort(axis=1)  # NaN sorts last
    recent = np.where(inside & (steps[None, :] >= (recent_lo - lo)[:, None]), a_w, np.nan)
    max_recent = np.fmax.reduce(recent, axis=1) if width else np.full(len(pairs), np.nan)  # fmax skips NaN
    table = _CpuTable(pairs, matrix, counts, max_recent, (now - timedelta(days=days), now), days)
    return {rid: ColumnWindow(table, i) for i, rid in enumerate(table.rids)}
