"""Phenomena of real Azure billing, one implementation for the demo tenant and bench/cost_scenarios (issue 16).

- ``ar1_factors``: multiplicative day-to-day noise, autocorrelated (AR(1) in log space), of a
  given coefficient of variation, mean 1;
- ``billed_on``: a monthly recurring charge (reservation, savings plan, Marketplace plan) is
  billed on its billing day, clipped to the month's end (an anniversary on the 31st is billed
  on the 30th in April);
- ``INCOMPLETE`` / ``incomplete_share``: the newest 3 days of an export are still incomplete
  (60 %, 80 %, 95 % of the final cost, newest first) and restated by later export runs;
- holidays come from the cost model's own calendars (``detectors.anomaly.holidays``), so the
  simulated spend falls on exactly the days the detector treats as holidays.

Pure Python (no numpy): the simulator draws from ``random.Random``, the bench from numpy;
both pass their standard normal draws in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from detectors.anomaly.holidays import holidays_in

__all__ = ["INCOMPLETE", "ar1_factors", "billed_on", "holidays_between", "incomplete_share"]

INCOMPLETE = (0.6, 0.8, 0.95)  # share of the final cost in an export, newest day first


def ar1_factors(normals: Sequence[float], cv: float, phi: float) -> list[float]:
    """Noise factors exp(e_t - sd^2/2) (mean 1), e AR(1) with lag-one correlation ``phi`` and stationary
    standard deviation sd = sqrt(log(1 + cv^2)), so the factors' coefficient of variation is ``cv``.

    ``normals``: one standard normal draw per day; the first starts the process, the others are innovations.
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"phi must be in [0, 1), got {phi}")
    sd = math.sqrt(math.log1p(cv * cv))
    step = sd * math.sqrt(1.0 - phi * phi)
    out: list[float] = []
    e = 0.0
    for i, z in enumerate(normals):
        e = sd * float(z) if i == 0 else phi * e + step * float(z)
        out.append(math.exp(e - sd * sd / 2.0))
    return out


def billed_on(day: date, billing_day: int) -> bool:
    """A charge billed monthly on ``billing_day`` (1..31) is billed on ``day``: clipped to the month's end."""
    last = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    return day.day == min(billing_day, last)


def incomplete_share(age: int) -> float:
    """Share of its final cost that an export holds for a day ``age`` days before the export's newest day."""
    return INCOMPLETE[age] if 0 <= age < len(INCOMPLETE) else 1.0


def holidays_between(first: date, last: date, calendar: str = "US") -> set[date]:
    """The holidays of ``calendar`` from ``first`` to ``last`` inclusive."""
    every = set().union(*(holidays_in(y, calendar) for y in range(first.year, last.year + 1)))
    return {d for d in every if first <= d <= last}
