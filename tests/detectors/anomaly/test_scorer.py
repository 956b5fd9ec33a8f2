from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from detectors.anomaly import score_series
from vigil.cli.main import app


def _daily(n: int = 200, seed: int = 0, level: float = 1000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = np.where(t % 7 >= 5, 0.6, 1.0)
    return level * weekly * (1 + 0.001 * t) * (1 + rng.normal(0, 0.03, n))


@pytest.mark.parametrize("profile", ["cost", "metric"])
def test_causal_prefix_scores_equal_truncated_full_scores(profile: str) -> None:
    x = _daily(300, seed=3)
    x[150] *= 2.5
    x[220:] += 400
    full = score_series(x, profile=profile, period=7)
    for cut in (40, 151, 221, 299):
        part = score_series(x[:cut], profile=profile, period=7)
        np.testing.assert_array_equal(part.score, full.score[:cut])
        np.testing.assert_array_equal(part.is_anomaly, full.is_anomaly[:cut])


@pytest.mark.parametrize("profile", ["cost", "metric"])
def test_scores_in_unit_interval_and_row_order_kept(profile: str) -> None:
    x = _daily(250, seed=4)
    x[100] *= 4
    s = score_series(x, profile=profile, period=7)
    assert len(s) == len(x)
    judged = s.score[s.judged]
    assert judged.min() >= 0.0
    assert judged.max() <= 1.0
    assert s.is_anomaly[100]
    # reversing the input changes the scores: no sorting happens inside
    assert not np.array_equal(score_series(x[::-1], profile=profile, period=7).score, s.score[::-1])


def test_cost_spike_flagged_and_weekly_seasonality_not() -> None:
    x = _daily(200, seed=5)
    s0 = score_series(x, profile="cost", min_impact=50)
    flagged = np.nonzero(s0.is_anomaly)[0]
    # weekends at 60% are the pattern: no weekend or Monday (the jump back up) is flagged;
    # pure noise may cross 3.5 sigma about once in a few hundred days
    assert not any(t % 7 in (5, 6, 0) for t in flagged)
    assert len(flagged) <= 1
    x[150] += 400  # about 13 sigma
    s = score_series(x, profile="cost", min_impact=50)
    assert 150 in np.nonzero(s.is_anomaly)[0].tolist()
    assert s.score[150] > 0.99
    assert s.expected[150] == pytest.approx(1000 * 1.15, rel=0.05)


def test_cost_drop_is_not_overspend_and_min_impact_gates() -> None:
    x = _daily(200, seed=6)
    x[150] *= 0.2  # holiday-like drop
    assert not score_series(x, profile="cost").is_anomaly[150]
    x[160] += 150  # about 5 sigma but below a 200-unit minimum impact
    assert score_series(x, profile="cost").is_anomaly[160]
    assert not score_series(x, profile="cost", min_impact=200).is_anomaly[160]


def test_short_series_gets_no_verdict_and_a_reason() -> None:
    s = score_series([10.0, 11.0, 12.0], profile="cost")
    assert not s.judged.any()
    assert s.reason is not None
    assert "too short" in s.reason
    assert "needs 21" in s.reason
    assert score_series([], profile="metric").reason == "empty series"


def test_nans_get_no_verdict_and_do_not_break_later_rows() -> None:
    x = _daily(200, seed=7)
    x[[50, 51, 120]] = np.nan
    x[130] += 500
    s = score_series(x, profile="cost", min_impact=50)
    assert np.isnan(s.score[[50, 51, 120]]).all()
    assert s.reasons[120] is not None
    assert "missing" in s.reasons[120]
    assert s.is_anomaly[130]
    assert np.isfinite(s.score[60:120]).all()
    m = score_series(x, profile="metric")
    assert np.isnan(m.score[120])
    assert np.isfinite(m.score[121])


def test_gaps_keep_weekday_phase_with_positions() -> None:
    x = _daily(210, seed=8)
    keep = np.ones(len(x), dtype=bool)
    keep[100:103] = False  # three days missing from the export
    pos = np.arange(len(x))[keep]
    # sensitivity 4: pure-noise days (about one in a few hundred at 3) stay out of the comparison
    s = score_series(x[keep], profile="cost", positions=pos, min_impact=50, sensitivity=4)
    whole = score_series(x, profile="cost", min_impact=50, sensitivity=4)
    # with positions, the days flagged are the ones flagged without the gap (noise days at most)
    assert set(pos[s.is_anomaly].tolist()) <= set(np.nonzero(whole.is_anomaly)[0].tolist())
    assert s.is_anomaly.sum() <= 1
    # without positions the weekday phase slips after the gap and weekdays after weekends look like jumps
    slipped = score_series(x[keep], profile="cost", min_impact=50, sensitivity=4)
    assert slipped.is_anomaly[100:].sum() >= 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="profile"):
        score_series([1.0], profile="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-decreasing"):
        score_series([1.0, 2.0], profile="cost", positions=[2, 1])


def test_throughput_is_thousands_of_rows_per_second_shape() -> None:
    # not timed (no timed assertions in tests): checks that a long series is scored row for row
    x = np.random.default_rng(9).normal(100, 5, 5000)
    assert len(score_series(x, profile="metric").score) == 5000


def test_cli_detect_anomalies(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    x = _daily(120, seed=10)
    x[100] += 600
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for i, v in enumerate(x):
            if i == 60:
                continue  # a gap
            w.writerow([_day(i), "" if i == 70 else v])
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(
        app, ["detect", "anomalies", "--input", str(src), "--output", str(out), "--profile", "cost"]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    assert len(rows) == 119
    assert rows[0]["anomaly_score"] == ""
    flagged = [r["timestamp"] for r in rows if r["is_anomaly"] == "True"]
    assert flagged == [_day(100)]
    assert "without verdict" in res.output


def test_cli_rejects_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("time,v\n1,2\n")
    res = CliRunner().invoke(app, ["detect", "anomalies", "--input", str(src), "--output", str(tmp_path / "o.csv")])
    assert res.exit_code == 2
    assert "timestamp" in res.output
    # a bad timestamp is named with its CSV row; an unknown holiday calendar names the option
    src.write_text("timestamp,value\n2026-01-01,1\nnot-a-date,2\n")
    args = ["detect", "anomalies", "-i", str(src), "-o", str(tmp_path / "o.csv"), "--profile", "cost"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert f"{src}: CSV row 3: timestamp 'not-a-date' is not a date/time" in res.output
    res = CliRunner().invoke(app, [*args, "--holidays", "Mars"])
    assert res.exit_code == 2
    assert "--holidays: unknown holiday calendar 'MARS'" in res.output


def _day(i: int) -> str:
    import datetime as dt

    return (dt.date(2026, 1, 5) + dt.timedelta(days=i)).isoformat()
