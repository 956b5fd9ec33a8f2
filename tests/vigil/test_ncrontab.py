"""The longest wait between runs of a daily NCRONTAB schedule (FORWARD_SCHEDULE)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from vigil.ncrontab import longest_gap


@pytest.mark.parametrize(
    ("expr", "gap"),
    [
        ("0 */2 * * * *", timedelta(minutes=2)),
        ("*/30 * * * * *", timedelta(seconds=30)),
        ("0 0 * * * *", timedelta(hours=1)),
        ("0 0,10 * * * *", timedelta(minutes=50)),  # uneven: the longest gap counts
        ("0 5/15 * * * *", timedelta(minutes=15)),
        ("0 0 7 * * *", timedelta(days=1)),  # once a day: the gap wraps to the next day
        ("0 0 6-18/6 * * *", timedelta(hours=12)),  # 6, 12, 18, then 6 the next day
    ],
)
def test_longest_gap(expr: str, gap: timedelta) -> None:
    assert longest_gap(expr) == gap


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("0 * * * *", "6 fields"),
        ("0 0 7 * * 1", "every day"),
        ("0 99 * * * *", "'99' is outside 0-59"),
        ("0 x * * * *", "invalid NCRONTAB field"),
        ("0 */0 * * * *", "outside"),
    ],
)
def test_bad_schedules_say_why(expr: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        longest_gap(expr)
