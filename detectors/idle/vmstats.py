"""Window statistics of VMs, computed once per ``detect`` call and shared by the VM rules.

For a lookback of ``days`` before ``now`` it computes per VM, from the hourly
``Percentage CPU`` series: the number of hours with data, the sorted hourly "high"
(maximum, else average) CPU values (to read any percentile, linear interpolation
as numpy's default), the max of hourly average CPU over the last ``recent_days``;
and from ``Network Out Total`` the sorted hourly totals. Points without values are
gaps (NaN), never zeros. The per-VM work in Python is only slicing the time-ordered
points (binary search) and reading the aggregations; only C-level
list building, ``sorted`` and ``max`` follow (faster than converting to numpy arrays).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter

from detectors.idle.common import interval_hours, window
from vigil.sources import MetricPoint, MetricSeries

__all__ = ["CPU", "NET_OUT", "VmWindow", "vm_windows"]

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
) -> dict[str, VmWindow]:
    start = now - timedelta(days=days)
    recent_start = now - timedelta(days=recent_days)
    cpu_name, net_name = CPU.lower(), NET_OUT.lower()
    out: dict[str, VmWindow] = {}
    for rid in vm_ids:
        cpu = net = None
        for s in metrics.get(rid, ()):
            name = s.name.lower()
            if name == cpu_name and cpu is None:
                cpu = s
            elif name == net_name and net is None:
                net = s
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
