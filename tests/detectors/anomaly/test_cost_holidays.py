"""Cost profile, holidays (issue 16, rounds 8 and 9): a spike on a holiday when the spend is switched off
on holidays, and on a holiday that is also a billing day. Each runs through ``score_timeseries``, the function
``vigil detect anomalies --profile cost`` calls."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from detectors.anomaly import score_timeseries
from detectors.anomaly.holidays import holiday_mask

START = date(2024, 1, 1)  # a Monday
N = 730
DAYS = [START + timedelta(days=i) for i in range(N)]
HOL = holiday_mask(np.array(DAYS, dtype="datetime64[D]"), "US")
SPIKES = [DAYS.index(date(2025, 7, 4)), DAYS.index(date(2025, 11, 27))]  # a Friday and a Thursday


def _ar1(rng: np.random.Generator, sd: float, phi: float) -> np.ndarray:
    e = np.empty(N)
    e[0] = rng.normal(0, sd)
    for i in range(1, N):
        e[i] = phi * e[i - 1] + rng.normal(0, sd * np.sqrt(1 - phi * phi))
    return e


def _dev_subscription(seed: int) -> np.ndarray:
    """5000 a weekday with AR(1) noise (10 %, phi 0.5), 5 % of that at weekends, nothing on holidays."""
    dow = np.arange(N) % 7
    x: np.ndarray = 5000.0 * np.where(dow >= 5, 0.05, 1.0) * np.exp(_ar1(np.random.default_rng(seed), 0.1, 0.5))
    x[HOL] = 0.0
    return x


def _holidays_flagged(flags: np.ndarray, skip: list[int]) -> list[date]:
    return [DAYS[i] for i in np.nonzero(HOL & flags)[0] if i >= 60 and i not in skip]


def _spikes_flagged(*, spike: float, flat: float = 0.0, flat_from: date = START) -> int:
    """Spikes flagged of the 6 (``SPIKES`` on 3 seeds of ``_dev_subscription``, plus ``flat`` a day from
    ``flat_from``, holidays included); every other holiday after the warm-up must stay quiet."""
    hits = 0
    for seed in range(3):
        x = _dev_subscription(seed)
        x[DAYS.index(flat_from) :] += flat
        x[SPIKES] += spike
        s = score_timeseries(DAYS, x, profile="cost", min_impact=50.0)
        hits += int(s.is_anomaly[SPIKES].sum())
        quiet = _holidays_flagged(s.is_anomaly, SPIKES)
        assert not quiet, f"seed {seed}: {quiet}"
    return hits


def test_a_spike_on_a_holiday_switched_off_is_flagged() -> None:
    """A dev subscription shut down on every holiday: a spike of 2000 on Independence Day and Thanksgiving
    2025 costs less than a usual weekday (5000), so judged as one it is never seen (before round 8 a
    holiday at zero turned every holiday model off: 0 of the 6 spikes flagged). Judged against what a
    switched-off holiday costs, it is: at least 5 of the 6 (a 3-sigma noise excess on a weekday is read as
    a monthly charge now and then, without ChargeCategory, and a spike on its next billing day is then
    read as the charge; seed 2's Thanksgiving). The holidays at zero stay quiet."""
    hits = _spikes_flagged(spike=2000.0)
    assert hits >= 5, f"{hits} of 6 spikes flagged"


def test_a_spike_over_a_flat_cost_left_on_holidays_is_flagged() -> None:
    """The same subscription; from September 2024 a flat 2000 a day stays on, holidays included (a resource
    nobody shuts down). A spike of 7000 on a holiday puts it at 9000, above a usual weekday (7000) too, by
    about 2.5 of its sigmas: judged as a usual day it is not an alarm; but no holiday here was ever left on as
    a usual day, so against the 2000 the latest holidays cost, it is: at least 5 of the 6 (3 before round 8;
    seed 2's Thanksgiving again falls on a day read as a billing day). The other holidays stay quiet."""
    hits = _spikes_flagged(spike=7000.0, flat=2000.0, flat_from=date(2024, 9, 3))
    assert hits >= 5, f"{hits} of 6 spikes flagged"


def test_a_spike_between_a_switched_off_holiday_and_a_usual_day_is_flagged() -> None:
    """The same subscription with the flat 2000 left on: a spike of 3600 puts a holiday at 5600, between
    what its holidays cost (2000) and a usual weekday (7000), about 2.5 of its sigmas below the latter.
    Neither way a holiday goes explains it. Round 8 judged such a day by the upper tail of the mixture of
    the two ways, which the left-on way covers whenever the day is below a usual one, so it was flagged only
    when 3 sigmas below a usual day (2 of the 6); round 9 by how far it lies from the way that explains it:
    at least 5 of the 6. The other holidays stay quiet."""
    hits = _spikes_flagged(spike=3600.0, flat=2000.0, flat_from=date(2024, 9, 3))
    assert hits >= 5, f"{hits} of 6 spikes flagged"


def test_a_spike_on_a_holiday_that_is_a_billing_day_is_judged_against_holiday_spend() -> None:
    """Spend on holidays is half a usual day's (5000, 5 % AR(1) noise); a plan of 3000 is billed on the 4th of
    every month. On Independence Day 2025, a holiday and a billing day, a spike of 1500 leaves the day below
    a usual day plus the charge: before round 8 a billing day got no holiday shift, and the spike was not
    seen. The other holidays and billing days stay quiet."""
    billing = np.array([d.day == 4 for d in DAYS])
    spike = SPIKES[0]
    for seed in range(3):
        x = 5000.0 * np.exp(_ar1(np.random.default_rng(seed), 0.05, 0.5))
        x[HOL] *= 0.5
        x[billing] += 3000.0
        x[spike] += 1500.0
        s = score_timeseries(DAYS, x, profile="cost", min_impact=50.0)
        assert s.is_anomaly[spike], f"seed {seed}: expected {s.expected[spike]:.0f}, cost {x[spike]:.0f}"
        quiet = [DAYS[i] for i in np.nonzero((HOL | billing) & s.is_anomaly)[0] if i >= 120 and i != spike]
        assert not quiet, quiet


def test_a_changed_amount_billed_the_month_after_a_holiday_billing_is_flagged() -> None:
    """The same spend (holidays at half, 5 % AR(1) noise); a plan of 3000 billed on the 20th. On 20 January
    2025, Martin Luther King Day, the plan is billed on a holiday; from 20 February its amount is 4500. Read
    against the holiday shift, January's billing gives the amount (round 9): the raised one is an anomaly.
    Before, any holiday billing widened the amount to anything up to the whole day's cost (the usage under
    it taken as unknown, though the shift models it), so the raise was read as the amount: never flagged.
    The other holidays and billing days stay quiet but for at most one episode in the 3 series (round 10: seed
    2's Christmas Day 2025 costs 2904 against 2428 expected, 3.1 of the model's sigmas, and opens an episode
    that the holidays after it keep open)."""
    billing = np.array([d.day == 20 for d in DAYS])
    raised = DAYS.index(date(2025, 2, 20))
    assert HOL[DAYS.index(date(2025, 1, 20))]
    loud: list[date] = []
    for seed in range(3):
        x = 5000.0 * np.exp(_ar1(np.random.default_rng(seed), 0.05, 0.5))
        x[HOL] *= 0.5
        x[billing] += 3000.0
        x[raised:][billing[raised:]] += 1500.0
        s = score_timeseries(DAYS, x, profile="cost", min_impact=50.0)
        assert s.is_anomaly[raised], f"seed {seed}: expected {s.expected[raised]:.0f}, cost {x[raised]:.0f}"
        starts = s.is_anomaly & ~np.r_[False, s.is_anomaly[:-1]]  # the first day of each episode
        loud += [DAYS[i] for i in np.nonzero((HOL | billing) & starts)[0] if i >= 120 and i != raised]
    assert len(loud) <= 1, loud
