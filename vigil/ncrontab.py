"""The longest wait between two runs of a daily NCRONTAB timer schedule (``sec min hour * * *``).

The forwarding timer (``FORWARD_SCHEDULE``) posts firing alerts with an ``endsAt`` beyond its next run:
this is how far that is at most. Only schedules that repeat every day are accepted (day, month and
day-of-week ``*``); fields take ``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S``, ``N/S`` and comma lists, as
the Functions host's NCRONTAB does.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

__all__ = ["longest_gap"]

_RANGES = ((0, 59), (0, 59), (0, 23))  # second, minute, hour


def _values(field: str, lo: int, hi: int) -> list[int]:
    out: set[int] = set()
    for part in field.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a_s, _, b_s = rng.partition("-")
            a, b = int(a_s), int(b_s)
        else:
            a = int(rng)
            b = hi if step_s else a
        if not (lo <= a <= b <= hi) or step < 1:
            raise ValueError(f"{part!r} is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return sorted(out)


def longest_gap(expr: str) -> timedelta:
    """The longest time between two consecutive runs; ValueError naming what is wrong."""
    fields = expr.split()
    if len(fields) != 6:
        raise ValueError("expected an NCRONTAB expression with 6 fields: 'sec min hour day month day-of-week'")
    if fields[3:] != ["*", "*", "*"]:
        raise ValueError("must run every day: day, month and day-of-week must be '*'")
    try:
        secs, mins, hours = (_values(f, lo, hi) for f, (lo, hi) in zip(fields[:3], _RANGES, strict=True))
    except ValueError as exc:
        raise ValueError(f"invalid NCRONTAB field: {exc}") from None
    runs = sorted(h * 3600 + m * 60 + s for h in hours for m in mins for s in secs)
    gaps = [b - a for a, b in itertools.pairwise(runs)] + [runs[0] + 86400 - runs[-1]]
    return timedelta(seconds=max(gaps))
