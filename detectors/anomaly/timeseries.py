"""One entry point from (timestamps, values) to scores: the CLI, the pipeline and the benchmarks call it.

``score_timeseries`` derives everything the scorer needs from the timestamps, the
same way for every caller, so that ``vigil detect anomalies``, the overspend
detector, ``bench/nab`` and ``bench/cost_scenarios`` score a series identically:

- metric profile: the seasonal period is the number of rows per day, from the
  spacing of the first two rows (decided at row 1, so it is causal);
- cost profile: rows are placed on a day (or hour) grid counted from a Monday, so
  gaps keep the weekday phase; daily rows also carry their calendar date, which the
  cost model needs for monthly recurring charges and holidays.

pandas is imported inside the function (the event cold path never calls it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from detectors.anomaly.scorer import Profile, Scores, score_series

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TimestampError", "rows_per_day", "score_timeseries"]

_EPOCH = "1970-01-05"  # a Monday: day number % 7 is the weekday


class TimestampError(ValueError):
    """A timestamp that cannot be used; ``row`` is its 0-based position."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def rows_per_day(timestamps: pd.Series | pd.DatetimeIndex) -> int:
    """Rows per day from the spacing of the first two rows (decided at row 1: causal); 0 when daily or coarser."""
    import pandas as pd

    if len(timestamps) < 2:
        return 0
    ts = pd.DatetimeIndex(pd.to_datetime(pd.Series(timestamps[:2]), utc=True))
    step = ts[1] - ts[0]
    if step <= pd.Timedelta(0) or step >= pd.Timedelta(days=1):
        return 0
    return round(pd.Timedelta(days=1) / step)


def _parse(timestamps: Any) -> pd.DatetimeIndex:
    import pandas as pd

    raw = pd.Series(timestamps)
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    bad = np.nonzero(parsed.isna().to_numpy())[0]
    if len(bad):
        row = int(bad[0])
        raise TimestampError(row, f"row {row}: timestamp {raw.iloc[row]!r} is not a date/time")
    return pd.DatetimeIndex(parsed)


def score_timeseries(
    timestamps: Sequence[Any] | pd.Series | pd.DatetimeIndex,
    values: Sequence[float] | np.ndarray,
    *,
    profile: Profile,
    sensitivity: float | None = None,
    min_impact: float = 0.0,
    holidays: str | None = "US",
    provisional: int = 0,
) -> Scores:
    """Score ``values`` causally, with the period, calendar grid and dates taken from ``timestamps``.

    ``holidays`` (cost profile): the holiday calendar (``detectors/anomaly/holidays.py``), None for none.
    ``provisional`` (cost profile): how many of the newest rows are still incomplete (restated later).
    """
    x = np.asarray(values, dtype=np.float64)
    if len(timestamps) != len(x):
        raise ValueError(f"{len(timestamps)} timestamps for {len(x)} values")
    ts = _parse(timestamps)
    if profile == "metric":
        return score_series(x, profile="metric", period=rows_per_day(ts), sensitivity=sensitivity)
    if len(ts) > 1:
        back = np.nonzero(np.diff(ts.asi8) < 0)[0]
        if len(back):
            row = int(back[0]) + 1
            raise TimestampError(row, f"row {row}: timestamp {ts[row]} is earlier than the row before it")
    import pandas as pd

    hourly = len(ts) > 1 and (ts[1] - ts[0]) < pd.Timedelta(days=1)
    unit = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    positions = ((ts - pd.Timestamp(_EPOCH, tz="UTC")) // unit).to_numpy(dtype=np.int64)
    days = None if hourly else ts.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[D]")
    return score_series(
        x,
        profile="cost",
        period=24 if hourly else 7,
        sensitivity=sensitivity,
        min_impact=min_impact,
        positions=positions,
        days=days,
        holidays=holidays,
        provisional=provisional,
    )
