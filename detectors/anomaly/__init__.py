"""The general causal anomaly scorer shared by every cost and metric detector.

``score_timeseries(timestamps, values, profile=...)`` is the one entry point of
the CLI, the overspend pipeline and the benchmarks; it derives the period, the
calendar grid and the dates from the timestamps and calls ``score_series``.
``score_series`` gives each row a score in [0, 1] computed only from the rows up
to and including it (scoring a prefix gives the same scores as scoring the whole
series and truncating). Rows that cannot be judged (warm-up, NaN) get no verdict:
their score is NaN and ``Scores.reasons`` says why.

Two profiles:

- ``cost``: daily (or hourly) spend. Weekly (daily) seasonality, damped trend,
  robust median/MAD statistics, one-sided (only increases are overspend), and an
  absolute-impact gate.
- ``metric``: generic streaming metrics (the NAB profile). Robust z-scores of the
  value and its change (or of the seasonal residual), a shape-discord score of the
  last rows (detectors/anomaly/discord.py) and a contextual novelty score over
  quantised recent values (detectors/anomaly/context.py), with alarm damping
  (a row must beat every earlier score of the series) so one event raises one alarm.

Import cost: numpy only at import; pandas is imported by the metric profile.
"""

from __future__ import annotations

from detectors.anomaly.scorer import PROFILES, Profile, Scores, score_series
from detectors.anomaly.timeseries import TimestampError, rows_per_day, score_timeseries

__all__ = ["PROFILES", "Profile", "Scores", "TimestampError", "rows_per_day", "score_series", "score_timeseries"]
