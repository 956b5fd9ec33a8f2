"""Alertmanager time intervals (``time_intervals``), used by mute/active route options.

A time interval holds a list of specs; it contains an instant when *any* spec
does. A spec contains an instant when every field given matches (an empty field
matches everything): ``times`` (HH:MM ranges, end exclusive), ``weekdays``
(``monday:friday``), ``days_of_month`` (``1:5``, negative counts from the end of
the month), ``months`` (``january:march`` or ``1:3``), ``years`` (``2024:2026``),
all evaluated in ``location`` (IANA zone, default UTC).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from alerts.config import TimeIntervalConfig, TimeIntervalSpec

__all__ = ["CompiledSpec", "compile_spec", "compile_time_intervals", "in_any"]

_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}  # monday=0
_MONTHS = {m.lower(): i - 1 for i, m in enumerate(calendar.month_name) if m}  # 0-based


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    times: tuple[tuple[int, int], ...]  # minutes since midnight, [start, end)
    weekdays: tuple[tuple[int, int], ...]
    days_of_month: tuple[tuple[int, int], ...]
    months: tuple[tuple[int, int], ...]
    years: tuple[tuple[int, int], ...]
    tz: tzinfo

    def contains(self, t: datetime) -> bool:
        lt = t.astimezone(self.tz)
        if self.times:
            minute = lt.hour * 60 + lt.minute
            if not any(a <= minute < b for a, b in self.times):
                return False
        if self.weekdays and not any(a <= lt.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month:
            last = calendar.monthrange(lt.year, lt.month)[1]
            ok = False
            for a, b in self.days_of_month:
                lo = a if a > 0 else last + a + 1
                hi = b if b > 0 else last + b + 1
                if lo <= lt.day <= hi:
                    ok = True
                    break
            if not ok:
                return False
        if self.months and not any(a <= lt.month <= b for a, b in self.months):
            return False
        return not (self.years and not any(a <= lt.year <= b for a, b in self.years))


def _ranges(
    items: Iterable[str], parse: Mapping[str, int] | None, lo: int, hi: int, what: str
) -> list[tuple[int, int]]:
    out = []
    for item in items:
        parts = str(item).lower().split(":")
        if len(parts) > 2:
            raise ValueError(f"invalid {what} range {item!r}")
        vals = []
        for raw in parts:
            p = raw.strip()
            if parse is not None and p in parse:
                vals.append(parse[p])
            else:
                try:
                    n = int(p)
                except ValueError:
                    raise ValueError(f"invalid {what} {p!r} in {item!r}") from None
                if what == "month":
                    n -= 1  # months are 1-based on the wire
                vals.append(n)
        a, b = vals[0], vals[-1]
        if what == "day of month":
            if a == 0 or b == 0 or not (-31 <= a <= 31 and -31 <= b <= 31):
                raise ValueError(f"invalid day of month range {item!r}")
            if (a > 0) == (b > 0) and a > b:
                raise ValueError(f"start day cannot be after end day in {item!r}")
            out.append((a, b))
            continue
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise ValueError(f"invalid {what} range {item!r}")
        out.append((a, b))
    return out


def compile_spec(spec: TimeIntervalSpec) -> CompiledSpec:
    tz: tzinfo = UTC
    if spec.location and spec.location.lower() not in ("utc", "local"):
        try:
            tz = ZoneInfo(spec.location)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown location {spec.location!r}") from None
    times = []
    for r in spec.times:
        sh, sm = (int(x) for x in r.start_time.split(":"))
        eh, em = (int(x) for x in r.end_time.split(":"))
        times.append((sh * 60 + sm, eh * 60 + em))
    months = [(a + 1, b + 1) for a, b in _ranges(spec.months, _MONTHS, 0, 11, "month")]
    return CompiledSpec(
        times=tuple(times),
        weekdays=tuple(_ranges(spec.weekdays, _WEEKDAYS, 0, 6, "weekday")),
        days_of_month=tuple(_ranges(spec.days_of_month, None, -31, 31, "day of month")),
        months=tuple(months),
        years=tuple(_ranges(spec.years, None, 1, 9999, "year")),
        tz=tz,
    )


def compile_time_intervals(configs: Iterable[TimeIntervalConfig]) -> dict[str, tuple[CompiledSpec, ...]]:
    return {c.name: tuple(compile_spec(s) for s in c.time_intervals) for c in configs}


def in_any(specs: Iterable[CompiledSpec], t: datetime) -> bool:
    return any(s.contains(t) for s in specs)
