"""Cost profile: noise that differs by weekday, AR(1) noise after a holiday, recurring amounts read from
several billings, and a ramp's impact (issue 16, round 3); a ramp the one-step model absorbs, flagged by
the drift check (round 4). Each runs through ``score_timeseries``, the function ``vigil detect anomalies
--profile cost`` calls."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from detectors.anomaly import score_timeseries
from detectors.anomaly.holidays import holiday_mask

START = date(2024, 1, 1)  # a Monday


def _dates(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float) -> np.ndarray:
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + rng.normal(0, sd * np.sqrt(1 - phi * phi))
    return e


def _episode_starts(flags: np.ndarray, lo: int = 60) -> list[int]:
    return [t for t in range(max(lo, 1), len(flags)) if flags[t] and not flags[t - 1]]


def test_busy_weekdays_over_flat_weekends_do_not_alarm() -> None:
    """Weekdays: usage with 20 % noise on top of a flat 3000 a day; weekends: the flat charges alone. The
    pooled error scale is the quiet weekends' as much as the weekdays': the weekdays' own scale must rule.
    Measured: 37 false alerts in 7.3 series-years with the pooled scale alone, 18 with the weekday's own;
    a 3-sigma rule on a scale estimated from 16 errors allows about 1.6 a year from the noise's tails."""
    n = 730
    false = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        dow = np.arange(n) % 7
        usage = 3000.0 * np.exp(_ar1(rng, n, 0.2, 0.4) - 0.02)
        x = 3000.0 + np.where(dow < 5, usage, 0.0)
        s = score_timeseries(_dates(n), x, profile="cost", min_impact=50.0, holidays=None)
        false += len(_episode_starts(s.is_anomaly))
    years = 4 * (n - 60) / 365.25
    assert false / years <= 3.0, f"{false} false alerts in {years:.1f} series-years"


def test_ar1_noise_after_a_holiday_is_not_an_alarm() -> None:
    """Strongly autocorrelated noise (phi 0.85): on the day after a holiday yesterday's error is unknown,
    so the forecast's uncertainty is the noise's whole variance, not its one-day innovation. Measured: 5 such
    days flagged in 12 series before, 2 after (rounds 3 to 9), 3 in round 10 (the season read from 16 cycles moved
    seed 11's 21 January 2025 from just below the threshold to just above it, score 0.51; on the cost scenarios
    it raised recall by about 1 anomaly per 8 more false alerts, against about 1 per 22 from a lower threshold).
    The bound keeps the gap to the 5 that an innovation-sized scale gave."""
    n = 730
    days = _dates(n)
    hol = holiday_mask(np.array(days, dtype="datetime64[D]"), "US")
    after = np.nonzero(np.r_[False, hol[:-1]] & ~hol)[0]
    flagged = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        x = 5000.0 * np.exp(_ar1(rng, n, 0.12, 0.85))
        x[hol] *= 0.5
        s = score_timeseries(days, x, profile="cost", min_impact=50.0)
        flagged += int(s.is_anomaly[after[after >= 60]].sum())
    assert flagged <= 3


def test_changed_recurring_amount_flagged_against_several_billings() -> None:
    """A monthly charge of 40 000 on the 11th over usage of 10 000 a day with 10 % noise; its price goes up
    by 4 000 (4 usage sigmas). One billing's excess carries one day's usage noise: read from the billings
    that agree, the amount is known better. Measured: flagged in 1 of 10 series from the latest billing
    alone, 3 of 10 from the billings that agree (a 4-sigma change stays hard to see on a bare series; the
    pipeline reads the charge itself from ChargeFrequency)."""
    n = 400
    days = _dates(n)
    change = date(2024, 9, 11)
    found = 0
    for seed in range(10):
        rng = np.random.default_rng(200 + seed)
        x = 10_000.0 * np.exp(_ar1(rng, n, 0.1, 0.3) - 0.005)
        for i, d in enumerate(days):
            if d.day == 11:
                x[i] += 40_000.0 + (4_000.0 if d >= change else 0.0)
        s = score_timeseries(days, x, profile="cost", min_impact=50.0, holidays=None)
        found += bool(s.is_anomaly[days.index(change)])
    assert found >= 3, f"changed amount flagged in {found} of 10 series"


def test_two_monthly_charges_on_consecutive_days_are_learnt() -> None:
    """A reservation billed on the 1st and a Marketplace plan on its anniversary, the 2nd: each day's excess
    has an excess beside it, which is not a lasting change. Both recur at their amounts: after the first
    months neither day is flagged again (before, both were flagged every month)."""
    n = 500
    days = _dates(n)
    rng = np.random.default_rng(11)
    x = 2000.0 * np.exp(_ar1(rng, n, 0.08, 0.4) - 0.003)
    for i, d in enumerate(days):
        if d.day == 1:
            x[i] += 15_000.0
        if d.day == 2:
            x[i] += 6_000.0
    s = score_timeseries(days, x, profile="cost", min_impact=50.0, holidays=None)
    late = [i for i, d in enumerate(days) if d.day in (1, 2) and i >= 120]
    flagged = [str(days[i]) for i in late if s.is_anomaly[i]]
    assert len(flagged) <= 1, flagged


def test_a_ramp_absorbed_by_the_one_step_model_is_flagged_by_the_drift_check() -> None:
    """Usage of 4000 a weekday (weekends 60 %) with 10 % AR(1) noise (phi 0.6) grows by 1400 a day (3.5
    marginal sigmas) over 14 days and stays. The level of the last two weeks and the AR(1) carry follow the
    ramp, so its one-step errors stay small. Measured: flagged within the ramp's 14 days + 7 in 6 of 12
    series before the drift check, 12 of 12 with it; false alerts 3 before, 5 after in 11.8 series-years."""
    n, s0 = 420, 300
    days = _dates(n)
    hits = false = 0
    for seed in range(12):
        rng = np.random.default_rng(300 + seed)
        dow = np.arange(n) % 7
        x = 4000.0 * np.where(dow >= 5, 0.6, 1.0) * np.exp(_ar1(rng, n, 0.1, 0.6))
        x[s0:] += 1400.0 * np.minimum((np.arange(n - s0) + 1) / 14, 1.0)
        starts = _episode_starts(score_timeseries(days, x, profile="cost", min_impact=50.0, holidays=None).is_anomaly)
        hits += any(s0 <= t <= s0 + 21 for t in starts)
        false += sum(1 for t in starts if not s0 <= t <= s0 + 21)
    years = 12 * (n - 60) / 365.25
    assert hits >= 10, f"ramp flagged in {hits} of 12 series"
    assert false / years <= 1.0, f"{false} false alerts in {years:.1f} series-years"


def test_a_second_ramp_after_a_rebased_one_is_flagged() -> None:
    """Two ramps of 1400 (3.5 marginal sigmas) 60 days apart in the series of the test above. The lifts read
    while the first ramp built up measured that change, not the noise: kept in the drift check's yardstick,
    they widened it for months. They are dropped when the first change becomes the baseline. Measured: the
    second ramp flagged in 1 of 12 series with them kept, 8 of 12 with them dropped."""
    n, first, second = 420, 240, 300
    days = _dates(n)
    hits = 0
    for seed in range(12):
        rng = np.random.default_rng(500 + seed)
        dow = np.arange(n) % 7
        x = 4000.0 * np.where(dow >= 5, 0.6, 1.0) * np.exp(_ar1(rng, n, 0.1, 0.6))
        for s0 in (first, second):
            x[s0:] += 1400.0 * np.minimum((np.arange(n - s0) + 1) / 14, 1.0)
        starts = _episode_starts(score_timeseries(days, x, profile="cost", min_impact=50.0, holidays=None).is_anomaly)
        hits += any(second <= t <= second + 21 for t in starts)
    assert hits >= 6, f"second ramp flagged in {hits} of 12 series"


def _quiet_holidays(seed: int, n: int = 730, share: float = 0.5) -> tuple[list[date], np.ndarray, np.ndarray]:
    """5000 a day with AR(1) noise (5 %, phi 0.5); on US holidays spend falls to ``share`` of that."""
    days = _dates(n)
    hol = holiday_mask(np.array(days, dtype="datetime64[D]"), "US")
    x = 5000.0 * np.exp(_ar1(np.random.default_rng(seed), n, 0.05, 0.5))
    x[hol] *= share
    return days, x, hol


def test_a_spike_on_a_quiet_holiday_is_flagged() -> None:
    """Spend on holidays is half of other days' (round 5): a spike of 30 % of a normal day on Independence
    Day and on Thanksgiving 2025 leaves the day below a normal day, so judged against normal spend it is
    never seen; the holiday effect learnt from past holidays judges it against holiday spend. The quiet
    holidays themselves stay unflagged."""
    for seed in range(3):
        days, x, hol = _quiet_holidays(seed)
        spikes = [days.index(date(2025, 7, 4)), days.index(date(2025, 11, 27))]
        x[spikes] += 1500.0
        s = score_timeseries(days, x, profile="cost", min_impact=50.0)
        assert s.is_anomaly[spikes].all(), f"seed {seed}: {s.is_anomaly[spikes]}"
        others = np.nonzero(hol)[0]
        others = others[(others >= 60) & ~np.isin(others, spikes)]
        assert not s.is_anomaly[others].any(), [days[i] for i in others if s.is_anomaly[i]]


def test_holidays_switched_off_teach_no_holiday_shift() -> None:
    """A dev subscription switched off on every holiday of its first year, left on in its second (round 5):
    a holiday at zero says nothing of holiday spend when on, so the second year's holidays, at a normal
    day's spend, are not judged against the first year's zeros."""
    for seed in range(3):
        days, x, hol = _quiet_holidays(seed, share=1.0)
        off = hol & (np.arange(len(days)) < 366)
        x[off] = 0.0
        s = score_timeseries(days, x, profile="cost", min_impact=50.0)
        second = np.nonzero(hol & (np.arange(len(days)) >= 366))[0]
        assert not s.is_anomaly[second].any(), [days[i] for i in second if s.is_anomaly[i]]


def test_holiday_shift_is_relearnt_after_a_lasting_change() -> None:
    """Holidays at 40 % of usage; from August 2024 a new resource costs 4000 every day, holidays included
    (round 5). Once the change is the baseline, the holidays' errors learnt before it describe the old
    regime: a holiday shift read from them would put Independence Day far below what it now costs."""
    for seed in range(3):
        days, x, hol = _quiet_holidays(seed, share=0.4)
        change = days.index(date(2024, 8, 5))
        x[change:] += 4000.0
        s = score_timeseries(days, x, profile="cost", min_impact=50.0)
        after = np.nonzero(hol & (np.arange(len(days)) > change))[0]
        after = after[after < days.index(date(2024, 12, 24))]
        assert not s.is_anomaly[after].any(), [days[i] for i in after if s.is_anomaly[i]]


def test_a_purchase_on_a_holiday_does_not_widen_the_holiday_spread() -> None:
    """Holidays at half of usage; a purchase of four days' spend on Labor Day 2024 (round 6: a one-off on a
    holiday, or a billing whose last billing is before the scored history, as in a daily run over its last 120
    days). The holidays' spread is their errors' within 3 MAD-sigmas, as the other errors' scale: one charge
    must not hide every later spike on a holiday, as the RMS of all holiday errors did."""
    for seed in range(3):
        days, x, hol = _quiet_holidays(seed)
        x[days.index(date(2024, 9, 2))] += 20000.0
        spikes = [days.index(date(2025, 7, 4)), days.index(date(2025, 11, 27))]
        x[spikes] += 1500.0
        s = score_timeseries(days, x, profile="cost", min_impact=50.0)
        assert s.is_anomaly[spikes].all(), f"seed {seed}: {s.is_anomaly[spikes]}"
        others = np.nonzero(hol)[0]
        others = others[(others >= 60) & ~np.isin(others, [*spikes, days.index(date(2024, 9, 2))])]
        assert not s.is_anomaly[others].any(), [days[i] for i in others if s.is_anomaly[i]]


def test_a_lasting_change_is_rebased_on_the_same_row_while_the_newest_rows_are_incomplete() -> None:
    """A lasting rise of 30 % (5 % noise) on day 180 is flagged for ``max_episode`` (7) days and becomes the
    baseline on day 187 (round 6). A daily run whose newest 3 days are incomplete (95, 80, 60 % of their final
    cost) must not end the episode on an incomplete day (at 80 % the day looks normal) and so must rebase on
    the same day 187: else it opens a new episode on the newest days that the complete series never has
    (flagged only while incomplete, flapping verdicts; bench/cost_scenarios' restatement)."""
    for seed in range(3):
        n, change = 188, 180
        x = 1000.0 * np.exp(np.random.default_rng(seed).normal(0.0, 0.05, n))
        x[change:] *= 1.3
        days = _dates(n)
        whole = score_timeseries(days, x, profile="cost", min_impact=50.0, holidays=None)
        assert whole.is_anomaly[change : change + 7].all()
        assert whole.rebased is not None
        assert np.nonzero(whole.rebased)[0].tolist() == [change + 7]
        seen = x.copy()
        seen[-3:] *= [0.95, 0.8, 0.6]
        run = score_timeseries(days, seen, profile="cost", min_impact=50.0, holidays=None, provisional=3)
        assert run.rebased is not None
        assert np.nonzero(run.rebased)[0].tolist() == [change + 7], seed


def test_an_incomplete_holiday_after_a_held_row_is_not_flagged() -> None:
    """A purchase on 2 July 2024 (the run's oldest incomplete day, at 95 %), 3 July at 80 % looking normal, and
    Independence Day at 60 % (round 6). The episode the purchase opened is held over the incomplete 3 July, but
    a holiday is flagged with an episode only when complete: the complete series ends the episode on 3 July,
    so an incomplete Independence Day flagged with it would be flagged only while incomplete."""
    for seed in range(3):
        days = _dates(186)  # the last day, index 185, is 4 July 2024
        x = 1000.0 * np.exp(np.random.default_rng(seed).normal(0.0, 0.05, len(days)))
        x[183] += 5000.0
        x[185] *= 0.6  # a quiet holiday
        seen = x.copy()
        seen[-3:] *= [0.95, 0.8, 0.6]
        run = score_timeseries(days, seen, profile="cost", min_impact=50.0, provisional=3)
        assert run.is_anomaly[183]
        assert not run.is_anomaly[184:].any(), run.is_anomaly[183:]


def _spike_after_a_flat_addition(seed: int) -> tuple[bool, int]:
    """Usage of 100 a day with 10 % noise; from day 200 a new resource adds a flat 400 a day (no noise of its
    own); on day 270 a one-day spike of 80 (8 currency sigmas of the usage noise). Returns whether the spike is
    flagged and how many episodes start after the addition's own (days 215..729, the spike's excluded)."""
    n = 730
    rng = np.random.default_rng(seed)
    x = 100.0 * np.exp(rng.normal(0, 0.1, n) - 0.005)
    x[200:] += 400.0
    x[270] += 80.0
    s = score_timeseries(_dates(n), x, profile="cost", min_impact=50.0, holidays=None)
    assert s.rebased is not None
    assert s.rebased[200:215].any(), "the addition did not become the baseline"
    others = [t for t in _episode_starts(s.is_anomaly, 215) if t != 270]
    return bool(s.is_anomaly[270]), len(others)


def test_a_spike_after_a_flat_addition_is_judged_against_the_usage_noise() -> None:
    """A cost added at a flat amount carries no noise: after it becomes the baseline, the same currency noise
    is a smaller share of the new level, so the errors learnt before it (log units) are rescaled to it. Without
    that, a spike of 8 usage sigmas 70 days later is judged against the old regime's errors (16 cycles are
    kept) and passes. Measured: 1 of these 6 seeds flagged before, 6 after (2 of 20 and 20 of 20 over seeds 0..19);
    no other episode after the addition in either."""
    results = [_spike_after_a_flat_addition(seed) for seed in range(6)]
    assert all(hit for hit, _ in results), results
    assert sum(others for _, others in results) <= 1, results
