"""Real billing on a bare daily series, through ``vigil detect anomalies --profile cost`` (the CLI).

Monthly recurring charges are learnt on their billing day; a recurring charge whose
amount changes is an anomaly; a lasting change is flagged for at most 7 days.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from detectors.anomaly import score_timeseries
from detectors.anomaly.holidays import holidays_in
from vigil.cli.main import app

START = date(2024, 1, 1)
LEVEL = 1000.0


def _usage(days: int, seed: int, noise: float = 0.05) -> tuple[list[date], np.ndarray]:
    """Weekdays at LEVEL, weekends at 70 %, multiplicative noise."""
    rng = np.random.default_rng(seed)
    dates = [START + timedelta(days=i) for i in range(days)]
    week = np.array([0.7 if d.weekday() >= 5 else 1.0 for d in dates])
    return dates, LEVEL * week * np.exp(rng.normal(0, noise, days))


def _cli_flags(dates: list[date], values: np.ndarray, tmp_path: Path) -> pd.Series:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"timestamp": [d.isoformat() for d in dates], "value": values}).to_csv(src, index=False)
    args = ["detect", "anomalies", "-i", str(src), "-o", str(out), "--profile", "cost", "--min-impact", "50"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    flags = pd.read_csv(out)["is_anomaly"].fillna(False).astype(bool)
    return pd.Series(flags.to_numpy(), index=dates)


def test_a_monthly_purchase_is_not_flagged(tmp_path: Path) -> None:
    dates, x = _usage(400, seed=1)
    on_first = [i for i, d in enumerate(dates) if d.day == 1]
    anniversary = [i for i, d in enumerate(dates) if d.day == 17]
    x[on_first] += 6000.0  # a reservation paid monthly on the billing day
    x[anniversary] += 2500.0  # a Marketplace plan renewed on its anniversary day
    flags = _cli_flags(dates, x, tmp_path)
    # the first charge is news; from the second month on it is the expected recurring charge
    for days in (on_first, anniversary):
        judged = [i for i in days if i >= 28]
        assert judged, "the series must reach the charges"
        assert not flags.iloc[judged[1:]].any(), flags.iloc[judged]
    assert int(flags.sum()) <= 3


def test_a_changed_recurring_amount_is_flagged(tmp_path: Path) -> None:
    dates, x = _usage(400, seed=2)
    on_first = [i for i, d in enumerate(dates) if d.day == 1]
    changed = on_first[8]
    for i in on_first:
        x[i] += 6000.0 if i < changed else 9000.0  # the plan's price went up by half
    flags = _cli_flags(dates, x, tmp_path)
    assert bool(flags.iloc[changed])
    # once changed, the new amount is the recurring charge: the next months are quiet again
    assert not flags.iloc[on_first[9:]].any()
    assert not flags.iloc[list(on_first[2:8])].any()


def test_a_step_is_flagged_at_most_7_days_then_the_new_level_is_the_baseline(tmp_path: Path) -> None:
    dates, x = _usage(420, seed=3, noise=0.04)
    step = 200
    x[step:] *= 1.4
    flags = _cli_flags(dates, x, tmp_path)
    flagged = np.nonzero(flags.to_numpy())[0]
    after = flagged[flagged >= step]
    assert len(after)
    assert after[0] <= step + 1
    assert after[-1] < step + 7, f"flagged days after the step: {after - step}"
    assert not flags.iloc[28:step].any()
    s = score_timeseries(dates, x, profile="cost", min_impact=50)
    assert s.rebased is not None
    moved = np.nonzero(s.rebased)[0]
    assert list(moved) == [after[-1] + 1]
    assert abs(s.expected[moved[0]] / (LEVEL * (0.7 if dates[moved[0]].weekday() >= 5 else 1.0) * 1.4) - 1) < 0.1


def test_us_holidays_and_christmas_to_new_year() -> None:
    h = holidays_in(2024, "US")
    assert {date(2024, 11, 28), date(2024, 5, 27), date(2024, 1, 15), date(2024, 7, 4)} <= h  # Thanksgiving...
    assert {date(2024, 12, d) for d in range(24, 32)} <= h
    assert date(2024, 1, 1) in h
    assert date(2024, 11, 27) not in h
    assert holidays_in(2021, "US") >= {date(2021, 12, 24), date(2021, 6, 18)}  # observed on the Friday
