"""Shared helpers for the idle rules: verdicts, metric windows, percentiles, ARM fields.

Pure functions only. Metric series are the stdlib :class:`core.sources.MetricSeries`
shape; points are expected in time order (Azure returns them so, and
``ingest.metrics`` guarantees it), but :func:`window` sorts a series that is not.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import attrgetter
from typing import Any

from core.sources import MetricPoint, MetricSeries

QUIET = "compliant (not reported: it was not firing)"

__all__ = [
    "QUIET",
    "QUIET_VERDICT",
    "Context",
    "Verdict",
    "arm_props",
    "find_series",
    "hours_between",
    "interval_hours",
    "parse_time",
    "percentile",
    "power_state",
    "values",
    "window",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's judgement of one resource.

    ``firing`` False means compliant now (reported RESOLVED). ``estimate_key`` names
    the price-table entry used when no cost rows exist; ``waste_fraction`` scales the
    resource's cost into the part that is wasted (1.0: all of it).
    """

    firing: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    waste_fraction: float = 1.0
    estimate_monthly: float | None = None
    estimate_source: str = ""


# The verdict of a compliant resource that will not be reported (stateful mode, it was not
# firing): one shared instance, never reported, so its (empty) evidence is never read.
QUIET_VERDICT = Verdict(False, QUIET)


def arm_props(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    props = resource.get("properties")
    return props if isinstance(props, Mapping) else {}


def power_state(vm: Mapping[str, Any]) -> str | None:
    """``running``/``stopped``/``deallocated``... from the instance view (None if absent)."""
    props = vm.get("properties") or {}
    view = props.get("instanceView") or vm.get("instanceView") or {}
    for status in view.get("statuses") or []:
        code = str(status.get("code", ""))
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    # Resource Graph rows: properties.extended.instanceView.powerState.code
    extended = (props.get("extended") or {}).get("instanceView") or {}
    code = str((extended.get("powerState") or {}).get("code") or "")
    if code.lower().startswith("powerstate/"):
        return code.split("/", 1)[1].lower()
    return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone (``Z``, an offset; ARM's 7 fractional digits are fine in 3.11);
    None when it is missing, malformed or has no zone (a naive time is not guessed at here)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of an already sorted sequence."""
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


_ts = attrgetter("timestamp")


def window(series: MetricSeries | None, start: datetime, end: datetime) -> Sequence[MetricPoint]:
    """The points with ``start <= timestamp < end`` (binary search on time-ordered points)."""
    if series is None or not series.points:
        return ()
    points = series.points
    if points[0].timestamp > points[-1].timestamp or (len(points) > 2 and points[1].timestamp < points[0].timestamp):
        points = tuple(sorted(points, key=_ts))
    lo = bisect_left(points, start, key=_ts)
    hi = bisect_left(points, end, lo=lo, key=_ts)
    return points[lo:hi]


def values(points: Sequence[MetricPoint], pick: Callable[[MetricPoint], float | None]) -> list[float]:
    """The non-missing values of one aggregation (a point without a value is a gap, not a zero)."""
    out = []
    for p in points:
        v = pick(p)
        if v is not None:
            out.append(v)
    return out


def find_series(series: Sequence[MetricSeries], name: str, dims: Mapping[str, str] | None = None) -> list[MetricSeries]:
    """Series of metric ``name`` whose dimensions include ``dims`` (names and values case-insensitive)."""
    want = name.lower()
    wanted = {k.lower(): v.lower() for k, v in (dims or {}).items()}
    out = []
    for s in series:
        if s.name.lower() != want:
            continue
        have = {k.lower(): str(v).lower() for k, v in s.dimensions.items()}
        if all(have.get(k) == v for k, v in wanted.items()):
            out.append(s)
    return out


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Context:
    """What every rule may read besides the resource itself (all pure inputs).

    ``cache`` memoizes figures shared by several rules within one ``detect`` call
    (e.g. the VM window statistics, computed for all ``vm_ids`` at once).
    """

    config: Any  # detectors.config.IdleConfig (typed loosely to keep this module import-light)
    now: datetime
    metrics: Mapping[str, Sequence[MetricSeries]]
    vm_ids: tuple[str, ...] = ()
    previous: frozenset[tuple[str, str]] | None = None  # (rule, resource id) firing before; None: stateless
    cache: dict[Any, Any] = field(default_factory=dict)
    powers: dict[int, str | None] = field(default_factory=dict)  # id(vm) -> power state, this call only

    def quiet(self, rule_id: str, resource_id: str) -> bool:
        """True when a compliant verdict of this rule on this resource will not be reported
        (stateful mode and it was not firing), so a rule may skip building its evidence."""
        return self.previous is not None and (rule_id, resource_id.lower()) not in self.previous

    def power_state(self, vm: Mapping[str, Any]) -> str | None:
        """:func:`power_state` of ``vm``, memoized for this ``detect`` call (three VM rules ask)."""
        key = id(vm)
        try:
            return self.powers[key]
        except KeyError:
            state = self.powers[key] = power_state(vm)
            return state

    def series_of(self, resource_id: str) -> Sequence[MetricSeries]:
        return self.metrics.get(resource_id.lower(), ())

    def vm_table(self, days: int) -> Any:
        """Every VM's window over the last ``days`` (``vm_ids`` -> ``VmWindow``/``ColumnWindow``)."""
        key = ("vm-window", days)
        table = self.cache.get(key)
        if table is None:
            from detectors.idle.vmstats import vm_windows

            table = self.cache[key] = vm_windows(self.vm_ids, self.metrics, self.now, days, self.config.recent_days)
        return table

    def vm_window(self, resource_id: str, days: int) -> Any:
        """The VM's :class:`detectors.idle.vmstats.VmWindow` (or ``ColumnWindow``) over the last ``days``."""
        rid = resource_id.lower()
        key = ("vm-window", days)
        table = self.cache.get(key)
        if table is not None:
            win = table.get(rid)
            if win is not None:
                return win
        from detectors.idle.vmstats import vm_windows

        if table is None:
            table = vm_windows(self.vm_ids, self.metrics, self.now, days, self.config.recent_days)
            self.cache[key] = table
        if rid not in table:
            table.update(vm_windows((rid,), self.metrics, self.now, days, self.config.recent_days))
        return table[rid]


def interval_hours(series: MetricSeries | None) -> float:
    """Hours per point from the ISO 8601 interval (PT1H, PT30M, PT5M, P1D...); 1.0 when unknown."""
    return _interval_hours(series.interval if series else "")


@cache
def _interval_hours(interval: str) -> float:
    text = interval.upper()
    if not text.startswith("P"):
        return 1.0
    days = hours = minutes = 0.0
    date_part, _, time_part = text[1:].partition("T")
    if date_part.endswith("D"):
        days = _num(date_part[:-1])
    num = ""
    for ch in time_part:
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch == "H":
            hours, num = _num(num), ""
        elif ch == "M":
            minutes, num = _num(num), ""
        else:
            num = ""
    total = days * 24 + hours + minutes / 60
    return total if total > 0 else 1.0


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
