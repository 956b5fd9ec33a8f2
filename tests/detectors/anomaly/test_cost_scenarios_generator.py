"""bench/cost_scenarios' generator has every phenomenon of real billing that issue 16 lists (point 2).

Each phenomenon is measured on the generated data itself, not read from the generator's parameters.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bench.cost_scenarios.generate import Series, generate, incomplete
from detectors.anomaly.holidays import holidays_in

SEEDS = range(40)


@pytest.fixture(scope="module")
def clean() -> list[Series]:
    return [generate(seed, with_anomalies=False) for seed in SEEDS]


def _purchases(s: Series, frequency: str) -> pd.DataFrame:
    f = s.frame
    rows = f[(f["ChargeCategory"] == "Purchase") & (f["ChargeFrequency"] == frequency)]
    return rows.assign(day=pd.to_datetime(rows["ChargePeriodStart"]).dt.date)


def test_weekly_seasonality(clean: list[Series]) -> None:
    ratios = []
    for s in clean:
        dow = np.array([d.weekday() for d in s.dates()])
        ratios.append(s.daily_usage[dow >= 5].mean() / s.daily_usage[dow < 5].mean())
    assert sum(r < 0.8 for r in ratios) >= len(ratios) // 2


def test_recurring_monthly_charges_on_billing_day_and_anniversary(clean: list[Series]) -> None:
    anniversaries = 0
    for s in clean:
        rec = _purchases(s, "Recurring")
        days_of_month = rec.groupby("ServiceName")["day"].apply(lambda d: sorted({x.day for x in d}))
        assert days_of_month["Reservations"] == [1]
        assert len(rec[rec["ServiceName"] == "Reservations"]) == 24  # every month of the two years
        if "Marketplace" in days_of_month:
            (day,) = days_of_month["Marketplace"]
            assert day != 1
            anniversaries += 1
    assert anniversaries >= 10


def test_one_off_purchases(clean: list[Series]) -> None:
    counts = [len(_purchases(s, "One-Time")) for s in clean]
    assert sum(c > 0 for c in counts) >= 10
    with_one = next(s for s in clean if len(_purchases(s, "One-Time")))
    assert set(_purchases(with_one, "One-Time")["day"]) == set(with_one.one_off_days)


def test_holidays_lower_spend(clean: list[Series]) -> None:
    hol = holidays_in(2024, "US") | holidays_in(2025, "US")
    ratios = []
    for s in clean:
        idx = {d: i for i, d in enumerate(s.dates())}
        for d in sorted(hol):
            i, j = idx.get(d), idx.get(d - timedelta(days=7))
            if i is not None and j is not None and (d - timedelta(days=7)) not in hol and s.daily_usage[j] > 0:
                ratios.append(s.daily_usage[i] / s.daily_usage[j])
    assert date(2024, 12, 24) in hol
    assert date(2024, 7, 4) in hol
    assert float(np.median(ratios)) < 0.85


def test_dev_subscriptions_drop_to_zero(clean: list[Series]) -> None:
    def longest_zero_run(x: np.ndarray) -> int:
        best = run = 0
        for v in x:
            run = run + 1 if v == 0 else 0
            best = max(best, run)
        return best

    dev = [s for s in clean if s.dev]
    assert len(dev) >= 4
    assert any(longest_zero_run(s.daily_usage) >= 7 for s in dev)  # switched off for a week or more


def test_autocorrelated_noise_of_cv_3_to_25_percent(clean: list[Series]) -> None:
    sds, corrs = [], []
    hol = holidays_in(2024, "US") | holidays_in(2025, "US")
    for s in clean:
        if s.dev:
            continue
        days = s.dates()
        ok = np.array([d not in hol and d - timedelta(days=7) not in hol for d in days])
        x = np.log(s.daily_usage)
        d7 = x[7:] - x[:-7]  # same weekday a week apart: level and season cancel
        good = ok[7:]
        sds.append(float(np.std(d7[good])) / np.sqrt(2))
        both = good[1:] & good[:-1]
        corrs.append(float(np.corrcoef(d7[1:][both], d7[:-1][both])[0, 1]))
    assert 0.02 <= min(sds) < 0.06
    assert 0.18 < max(sds) <= 0.3
    assert float(np.mean(corrs)) > 0.15  # AR(1): positive correlation from one day to the next


def test_levels_from_a_few_dollars_to_tens_of_thousands(clean: list[Series]) -> None:
    means = [float(s.daily_usage.mean()) for s in clean]
    assert min(means) < 50
    assert max(means) > 10_000


def test_last_three_days_incomplete_and_restated() -> None:
    s = generate(0)
    seen = incomplete(s.daily_total)
    np.testing.assert_allclose(seen[-3:] / s.daily_total[-3:], [0.95, 0.8, 0.6])
    np.testing.assert_array_equal(seen[:-3], s.daily_total[:-3])
    later = incomplete(s.daily_total[:-1])  # the previous day's export: its newest day at 60 %
    assert later[-1] == pytest.approx(0.6 * s.daily_total[-2])


def test_the_recall_interval_is_wilsons_and_covers_its_rate() -> None:
    """bench/cost_scenarios prints each recall with its 95 % Wilson interval: the textbook values at the
    edges (0 of 10: up to 0.278; 10 of 10: from 0.722), and, simulated, an interval that holds the true
    recall in about 95 % of samples of the bench's size (~130 anomalies)."""
    from bench.cost_scenarios import wilson

    assert wilson(0, 10) == (0.0, 0.278)
    assert wilson(10, 10) == (0.722, 1.0)
    assert wilson(5, 0) is None
    rng = np.random.default_rng(20261207)
    n, rate = 130, 0.93
    hits = rng.binomial(n, rate, size=4000)
    covered = [lo <= rate <= hi for lo, hi in (wilson(int(h), n) or (1.0, 0.0) for h in hits)]
    assert 0.93 <= float(np.mean(covered)) <= 0.97
