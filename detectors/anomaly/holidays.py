"""Holiday calendars for the cost profile, computed from their rules (no table to keep up to date).

Calendars, named in the cost profile's ``holidays`` option (several joined by ``+``):

- ``XMAS``: the Christmas to New Year period, 24 December to 1 January inclusive,
  when many companies shut down their development and batch workloads;
- ``US``: the US federal holidays (5 U.S.C. 6103): New Year's Day, Martin Luther King
  Jr. Day (3rd Monday of January), Washington's Birthday (3rd Monday of February),
  Memorial Day (last Monday of May), Juneteenth (19 June, from 2021), Independence
  Day, Labor Day (1st Monday of September), Columbus Day (2nd Monday of October),
  Veterans Day, Thanksgiving (4th Thursday of November) and Christmas Day, each
  fixed-date holiday also observed on the Friday before (Saturday) or the Monday
  after (Sunday); ``US`` includes ``XMAS``.

On a holiday, spend often departs from the weekly pattern (down for office and dev
workloads, sometimes up for retail); the cost model does not learn level, season,
error scale or the sustained check from those days, so the days after a holiday are
judged against ordinary days (see detectors/anomaly/cost.py). A holiday itself is
judged like any day: an increase on it is still an increase.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["CALENDARS", "holiday_mask", "holidays_in"]

CALENDARS = ("US", "XMAS")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) given weekday (Monday 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    return d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=1) if d.weekday() == 6 else d


def _us_federal(year: int) -> set[date]:
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2021:
        fixed.append(date(year, 6, 19))
    out = set(fixed) | {_observed(d) for d in fixed}
    out |= {
        _nth_weekday(year, 1, 0, 3),
        _nth_weekday(year, 2, 0, 3),
        _nth_weekday(year, 5, 0, -1),
        _nth_weekday(year, 9, 0, 1),
        _nth_weekday(year, 10, 0, 2),
        _nth_weekday(year, 11, 3, 4),
    }
    return out


def _xmas(year: int) -> set[date]:
    return {date(year, 12, d) for d in range(24, 32)} | {date(year, 1, 1)}


def holidays_in(year: int, calendar: str) -> set[date]:
    """The holidays of ``calendar`` (for example ``US`` or ``XMAS``) in ``year``."""
    out: set[date] = set()
    for name in (c.strip().upper() for c in calendar.split("+") if c.strip()):
        if name == "US":
            out |= _us_federal(year) | _xmas(year)
        elif name == "XMAS":
            out |= _xmas(year)
        else:
            raise ValueError(f"unknown holiday calendar {name!r}; expected one of {', '.join(CALENDARS)}")
    return out


def holiday_mask(days: npt.NDArray[np.datetime64], calendar: str) -> npt.NDArray[np.bool_]:
    """Per row: its date is a holiday of ``calendar``."""
    d = np.asarray(days).astype("datetime64[D]")
    if len(d) == 0:
        return np.zeros(0, dtype=bool)
    years = d.astype("datetime64[Y]").astype(int) + 1970
    wanted: set[date] = set()
    for y in range(int(years.min()) - 1, int(years.max()) + 2):
        wanted |= holidays_in(y, calendar)
    table = np.array(sorted(wanted), dtype="datetime64[D]")
    return np.isin(d, table)
