"""Cost scenarios: recall, false alerts and delay of the cost anomaly detection on synthetic billing.

Each series (bench/cost_scenarios/generate.py: weekly season, holidays, dev subscriptions
that drop to zero, autocorrelated noise of CV 3-25 %, levels from 5 to 50 000 a day,
monthly recurring and one-off purchases, incomplete newest days) is scored two ways:

- ``pipeline``: ``detectors.overspend.detect`` on the cost frame (billing-account scope,
  every day evaluated; FOCUS ChargeCategory/ChargeFrequency keep purchases and recurring
  charges apart, a recurring charge's changed amount is its own finding);
- ``cli``: the bare daily total (purchases included) through ``score_timeseries``, the
  function ``vigil detect anomalies --profile cost --min-impact 50`` calls, which learns the
  monthly recurrence itself. A one-off purchase is news on a bare series: an episode that
  starts on its day is neither a hit nor a false alert;
- ``daily`` (session 10; every ``VIGIL_BENCH_DAILY_EVERY``-th series, default 4, 0 for none): the pipeline
  as the Function App runs it, one ``detect`` a day over the cost rows a detection loads
  (``vigil.handlers._common.cost_history``: ``history_days`` + 31 days), ``history_days`` at its default.
  ``pipeline`` above scores the whole series in one call, which no deployment does: development seeds
  0, 4, .., 116, ``daily``: recall 0.9355 (29 of 31; 95 % 0.793..0.982), 1.023 false alerts/series-year,
  median delay 0, against ``pipeline``'s 0.942 and 0.711 on all 120. ``pass`` needs it to meet the goals.

An injected anomaly is detected when an alert episode starts within its tolerance (spike
and changed recurring charge: the day itself or the next; step and new resource: 7 days;
ramp: its 14 ramp days + 7). An episode that starts outside every tolerance is a false alert.

Seeds: the development seeds 0..119 are the ones the cost model was tuned on; the held-out
seeds 52000..52119 were written down before round 3 of issue 16 began and scored once, at its
end (CLI recall 0.833, 1.009 false alerts/series-year; pipeline 0.833, 0.458; 1 flapping day;
development 0..119 in the same run: CLI 0.862 / 0.499, pipeline 0.877 / 0.423). Their CLI
false alerts were twice the development seeds': 115 of 291 on the 1st or 2nd of the month, in
series with a plan billed on the 2nd beside the reservation on the 1st (no development seed has
one), which the model could not learn (a billing day's excess had to have normal neighbours).
After that fix (cost.py ``_lone``), the held-out seeds move to 61000..61119, scored once:
CLI recall 0.812, 0.541 false alerts/series-year, median delay 0; pipeline 0.827, 0.437, 0;
restatement 0 flapping days, 0 flagged only while incomplete (development in the same run: CLI
0.862 / 0.489, pipeline 0.870 / 0.413). Recall misses its goal; ramps (0.50) are the weakest.
61000.. is spent too: retired. Round 4 (the remaining recall gap) wrote its held-out range
down before changing the model: 83000..83119, scored exactly once, at the end of the round.
Round 4 added the cost model's drift check (cost.py: a ramp's one-step errors stay small, so
the last cycle's level is compared with the level before the model's level window), chosen on
development seeds 0..119 only. 83000..83119, scored once at its end: CLI recall 0.865, 0.680
false alerts/series-year, median delay 0 (spikes 0.667, steps 0.943, ramps 0.917, new resources
0.929, changed recurring amounts 0.842); pipeline 0.887, 0.499, 0; restatement 0 flapping days,
0 flagged only while incomplete (development in the same run: CLI 0.906 / 0.604, pipeline
0.913 / 0.527). Recall still misses its goal; spikes are now the weakest. 83000.. is spent:
retired. Round 5 (spike recall) wrote its held-out range down before changing the model:
97000..97119, scored exactly once, at the end of the round. Round 5 added the cost model's learnt
holiday shift (cost.py: a spike on a quiet holiday is judged against holiday spend; one of the
generator's eight anomaly start days, 2025-07-04, is a holiday in every series), chosen on development
seeds 0..119 only. 97000..97119, scored once at its end: CLI recall 0.9225, 0.635 false alerts/
series-year, median delay 0 (spikes 0.864, steps 0.915, ramps 0.963, new resources 1.0, changed
recurring amounts 0.778); pipeline 0.938, 0.555, 0; restatement 1 flapping day, 0 flagged only while
incomplete (development in the same run: CLI 0.913 / 0.607, pipeline 0.920 / 0.527; restatement 0 / 0).
Recall still misses its goal. 97000.. is spent: retired. Round 6 (recall, restatement) wrote its
held-out range down before changing the model: 131000..131119, to be scored exactly once, at the end of
the round, with restatement on every series. Round 6 analysed the development misses (CLI 12 of 138:
3 spikes buried in the day's own noise, z 1.4-2.9; one at 49.9 of excess under the 50 of min-impact; 2
changes that began the day after a one-off purchase, whose episode they extend, so no episode starts on
them - a bare series has one flag per day; 3 steps or new resources and a ramp in autocorrelated noise,
whose 7-day lift stays within 1-2.3 spreads of past lifts inside their tolerance; a changed recurring
amount at z 2.3; a dev subscription's step on a weekend) and found them at the noise's limit: lower
thresholds bought false alerts, no recall (sensitivity 2.8: CLI 0.906 / 0.843; cusum_h 4.5: 0.913 /
0.704; drift at 2.5 sigma: 0.913 / 0.801); the drift lifts' scale as ``_error_scale`` (one-sided)
found one step more (CLI 0.9203 / 0.614, pipeline 0.9275 / 0.548), and learning no lift for 8 weeks
after a rebase lost a ramp (CLI 0.906 / 0.597): both rejected, one seed is no evidence. Its two model
changes fix restatement only (cost.py: the holiday shift's spread within 3 MAD-sigmas; an incomplete
row held in an episode): development 0..119, CLI recall 0.913, 0.607
false alerts/series-year, median delay 0 (spikes 0.833, steps 0.94, ramps 0.955, new resources 0.9,
changed recurring amounts 0.917); pipeline 0.9203, 0.527, 0; both unchanged; restatement over all 120
series 1 flapping day and 4 flagged only while incomplete of 44,280 (was 1 and 6; left: dev subscriptions
whose episode and rebase move with the start of each run's 120-day history, and a plan whose previous
billing fell outside it). 131000..131119, scored once at its end, restatement on every series: CLI
recall 0.8511 (141 anomalies), 0.801 false alerts/series-year, median delay 0 (spikes 0.769, steps
0.957, ramps 0.852, new resources 0.846, changed recurring amounts 0.688); pipeline 0.9007, 0.666, 0
(spikes 0.769, steps 0.957, ramps 0.926, new resources 0.846, changed recurring amounts 1.0);
restatement 6 flapping days and 5 flagged only while incomplete of 44,280. Below the goals, and below
round 5's figures on its own range (97000..; steps excepted) although round 6 changed no detection on
development seeds: a different sample of series, so the spread between held-out ranges is itself about
this large; the CLI's changed recurring amounts and spikes are the weakest, and restatement is not
solved. 131000.. is spent: retired. Afterwards, for comparison only and with round 6 already merged (no
change followed it), round 5's model was scored on the same range: CLI 0.844 / 0.801, pipeline 0.894 /
0.666, restatement 6 flapping days and 11 flagged only while incomplete. So round 6 lowered nothing there
(+1 CLI hit, 6 fewer days flagged only while incomplete); the fall from 97000..'s 0.9225 is the spread
between two held-out samples of 120 series. Session 6 then measured the final round-6 model once on 480
fresh series, 211000..211479 (``VIGIL_BENCH_DEV=0 VIGIL_BENCH_SCALE=4 VIGIL_BENCH_RESTATE_EVERY=4``, 6.5 min
on 2 cores), written down before it ran: CLI recall 0.8911 (95 % 0.862..0.914, 551 anomalies), 0.667 false
alerts/series-year (1,153 series-years), median delay 0 (spikes 0.76 of 104, steps 0.93, ramps 0.921, new
resources 0.95, changed recurring amounts 0.814); pipeline 0.9147 (0.888..0.935), 0.534, 0 (spikes 0.827,
changed recurring amounts 1.0); restatement over 120 of the series 2 flapping days and 1 flagged only while
incomplete of 44,280. This is the best estimate of the model's recall so far: the goal of 0.95 is outside
both intervals, and spikes are the gap. 211000.. is spent. Round 7 (session 7) wrote 307000..307479 down before
it began and diagnosed misses on the development seeds and on the spent 211000..: anomalies after an earlier
lasting change were judged against the errors of the smaller regime before it (the generator's changes add a
flat, noise-free cost), so cost.py now rescales those errors after an additive rebase (development 0..119: CLI
0.913 -> 0.9203 / 0.694 false alerts/series-year, pipeline 0.920 -> 0.9348 / 0.614; restatement 1 flapping day,
4 flagged only while incomplete, unchanged). 307000..307479, scored once at its end (``VIGIL_BENCH_DEV=0
VIGIL_BENCH_SCALE=4 VIGIL_BENCH_RESTATE_EVERY=4``, 25 min beside a test run on 2 cores): CLI recall 0.8917 (95 %
0.861..0.916, 480 anomalies), 0.72 false alerts/series-year, median delay 0 (spikes 0.757 of 103, steps 0.98,
ramps 0.96, new resources 0.917, changed recurring amounts 0.75); pipeline 0.9229 (0.896..0.944), 0.622, 0
(spikes 0.786, changed recurring amounts 1.0); restatement over 120 of the series 2 flapping days and 12 flagged
only while incomplete of 44,280. Within the interval of round 6's 211000.. figures: the rescaling's effect is
smaller than the spread between samples; the goal of 0.95 is still outside both intervals, spikes and the CLI's
changed recurring amounts are the gap. 307000.. is spent. Round 8 (session 8) scored 419000..419479, written
down in session 7 for a change rejected before any scoring and never looked at. Diagnosed on the development
seeds and the spent 211000.. and 307000..: a spike on a holiday was missed where holidays are switched off (a
dev subscription at zero on holidays: a zero-cost holiday turned every holiday model off, so the spike was
judged against a usual weekday's spend) and where the holiday was also a billing day (no holiday shift under a
charge); 7 of 307000..'s 25 CLI spike misses were on Independence Day 2025 (3 of 21 after). cost.py now
gives a billing-day holiday the shift and judges holidays switched off against what the latest holiday cost
(development 0..119: recall unchanged, false alerts 165 -> 172 CLI, 155 -> 160 pipeline; spent 307000..:
CLI 0.8917 -> 0.900, pipeline 0.9229 -> 0.9292; spent 211000..: CLI 0.9093 -> 0.9183, pipeline 0.9292 ->
0.931). 419000..419479,
scored once at its end (``VIGIL_BENCH_DEV=0 VIGIL_BENCH_SCALE=4 VIGIL_BENCH_RESTATE_EVERY=4``, 15 min on 2
cores): CLI recall 0.9132 (95 % 0.885..0.935, 507 anomalies), 0.742 false alerts/series-year, median delay 0
(spikes 0.804 of 102, steps 0.979, ramps 0.933, new resources 0.975, changed recurring amounts 0.76 of 50);
pipeline 0.9329 (0.908..0.952), 0.603, 0 (spikes 0.814, ramps 0.921, changed recurring amounts 0.98);
restatement over 120 of the series 1 flapping day and 8 flagged only while incomplete of 44,280. The best
held-out figures so far, but a different sample again: the goal of 0.95 is outside the CLI's interval and at
the top of the pipeline's; spikes and the CLI's changed recurring amounts remain the gap. 419000.. is spent.
Round 9 (session 9) scored 523000..523479, written down in session 8 before it began. Diagnosed on the
development seeds and the spent 307000.. and 419000..: of 419000..'s 20 CLI spike misses 5 were on Independence
Day 2025 at subscriptions switched off on holidays, where a spike that left the day between the switched-off
cost and a usual day was covered by the left-on way's upper tail; and a changed recurring amount billed the
month after a holiday billing was read as the amount (z = 0: a holiday billing let the next amount be anything
up to the holiday's whole cost, though the holiday shift modelled the usage under it). cost.py now judges a
switched-off holiday by its distance to each way and reads such a billing against holiday usage (development
0..119: recall and false alerts unchanged, restatement 2 flapping days, was 1; spent 419000..: CLI 463 -> 465
hits, 725 -> 721 false alerts; spent 307000..: 432 -> 430, 706 -> 701). 523000..523479, scored once at its
end (``VIGIL_BENCH_DEV=0 VIGIL_BENCH_SCALE=4 VIGIL_BENCH_RESTATE_EVERY=4``, 7 min on 2 cores): CLI recall 0.902
(95 % 0.873..0.925, 500 anomalies), 0.723 false alerts/series-year, median delay 0 (spikes 0.787 of 94, steps
0.962, ramps 0.882, new resources 0.97, changed recurring amounts 0.839 of 56); pipeline 0.926 (0.90..0.946),
0.598, 0 (spikes 0.798, ramps 0.903, changed recurring amounts 1.0); restatement over 120 of the series 3
flapping days and 4 flagged only while incomplete of 44,280. Within the spread of the earlier 480-series
ranges (CLI 0.891, 0.892, 0.913): the goal of 0.95 is outside both intervals; spikes (about 0.8 on every range)
and ramps here are the gap. 523000.. is spent.
Round 10 (session 10) scored 617000..617479, written down in session 9 before it began. Diagnosed on the
development seeds and the spent 307000.. and 419000.. against an oracle (a detector told the generator's level,
season, noise and yesterday's noise: spike recall 0.961 on 419000.. at the same threshold, against the CLI's
0.81): the model's one-step scale was about 1.15 to 1.25 times the noise's innovation, and some of the gap had
causes of its own. A lone excess taken for a recurring charge (a spike, a one-off purchase, a noise day) was
expected on the same day for 3 months, and each month without it put one large error into that weekday's scale
for 16 cycles; past holidays' errors were forgotten at every rebase, so a spike on the first holidays after a
new resource was judged against a usual day; recurring amounts were a plain mean, so a billing on a quiet day
did not narrow the amount's noise; a purchase before the Christmas holidays rebased the history to its own
level (one day seen in a 7-day episode); the seasonal effect, read from 8 cycles, carried a variance the AR(1)
carry does not remove. cost.py fixes each and reads the season from 16 cycles (development 0..119: CLI 127 ->
131 of 138, false alerts 207 -> 235; pipeline 0.9348 -> 0.942, 0.631 -> 0.711; restatement 1 flapping day,
was 2; spent 307000..: 430 -> 445 of 480, 834 -> 994; spent 419000..: 465 -> 471 of 507, 852 -> 984; a lower
threshold alone, sensitivity 2.9 on 307000..: 435, 944). 617000..617479, scored once at its end
(``VIGIL_BENCH_DEV=0 VIGIL_BENCH_SCALE=4 VIGIL_BENCH_RESTATE_EVERY=4``, 8.5 min on 2 cores): CLI recall 0.9408
(95 % 0.917..0.958, 524 anomalies), 0.839 false alerts/series-year, median delay 0 (spikes 0.881 of 109, steps
0.964, ramps 0.971, new resources 0.98, changed recurring amounts 0.854 of 48); pipeline 0.9523 (0.931..0.967),
0.665, 0 (spikes 0.89, ramps 0.951, changed recurring amounts 1.0): the pipeline meets the recall, false-alert
and delay goals on a held-out range for the first time; the CLI's interval holds 0.95. Restatement over 120 of
the series: 3 flapping days and 10 flagged only while incomplete of 44,280, so ``pass`` stays false (it needs
no flapping). 617000.. is spent.
History: the ranges 1000.. and 2000.. were looked at while the previous model was tuned;
5000..5119 was scored once after round 1 (CLI recall 0.81, 1.27 false alerts/series-year) and
9000..9119 once after round 2 (CLI recall 0.856, 1.33), then retired. Development and held-out
figures are printed side by side, for the CLI and the pipeline path; ``pass`` is decided on the
held-out seeds. Each recall is printed with its 95 % Wilson interval (``wilson``): 120 series hold about
130 qualifying anomalies, so a measured 0.92 spans 0.86..0.96 and two held-out ranges can differ by 0.07
by chance alone (97000.. and 131000.. did). A round that wants to show 0.95 should score a larger held-out
range: ``VIGIL_BENCH_SCALE=4`` gives 480 series (interval about +-0.025; restatement then takes ~20 min on
2 cores, ``VIGIL_BENCH_RESTATE_EVERY=4`` keeps the whole run to ~7).

Restated days: for every series (``VIGIL_BENCH_RESTATE_EVERY=N``: every Nth; ``VIGIL_BENCH_RESTATE=0``:
none), the bare series is re-scored as daily export runs would see it (the newest 3 days 60/80/95 %
complete, ``--incomplete-days 3``, each run over its last ``RESTATE_HISTORY`` days) over one year; a day
whose verdict goes flagged, not flagged, flagged across runs is a flap, and a day flagged only while
incomplete is a false alert caused by restatement. Rounds 3 to 5 checked every tenth series only and
reported 0 / 0 on development seeds; session 5 re-checked all 120 development series with round 5's
model: 1 flapping day and 6 days flagged only while incomplete of 44,280 (seeds 43, 46, 88, 106; all but
88's were there at round 3's end too). They are dev subscriptions around a lasting change that becomes
the baseline, whose timing moves with each run's sliding history window, and a one-off purchase on a
holiday. Every series is checked since.

Baseline, measured in the same run: a naive rule on the usage series - alert when the day
exceeds the mean of the previous 28 days by 3 standard deviations and 50 units.
"""

from __future__ import annotations

import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.cost_scenarios.generate import KINDS, RAMP_DAYS, Injected, Series, generate, incomplete

if TYPE_CHECKING:
    from detectors.config import OverspendConfig

GOAL_RECALL = 0.95
GOAL_FALSE_PER_YEAR = 1.0
GOAL_DELAY_DAYS = 1.0
WARMUP_DAYS = 28


def _tolerance(a: Injected) -> int:
    return {"spike": 1, "recurring_change": 1, "step": 7, "new_resource": 7, "ramp": RAMP_DAYS + 7}[a.kind]


def _pipeline_config() -> OverspendConfig:
    """The overspend configuration both pipeline paths run: the billing-account scope, no per-resource series,
    ``min_impact`` 50 (the goal's size); every other setting, ``history_days`` included, its default."""
    from detectors.config import OverspendConfig

    return OverspendConfig(scopes=["billing_account"], top_resources=0, min_impact=50.0)


def _episodes_vigil(series: Series) -> list[date]:
    from detectors.overspend import detect

    cfg = _pipeline_config()
    days = [series.start + timedelta(days=i) for i in range(WARMUP_DAYS, series.days)]
    now = datetime.combine(series.start + timedelta(days=series.days), datetime.min.time(), tzinfo=UTC)
    findings = detect(series.frame, config=cfg, now=now, days=days)
    return sorted(date.fromisoformat(f.evidence["first_day"]) for f in findings if f.status.value == "firing")


def _episodes_daily(series: Series) -> list[date]:
    """The pipeline as the Function App runs it: one ``detect`` a day (``now`` the next midnight, the newest
    4 days evaluated) over the cost rows the detect-scope handler loads (``cost_history``), with
    ``_pipeline_config``. A day is flagged when a firing finding of any run covers it (its ``first_day`` to its
    ``day``); an episode starts on a flagged day whose previous day is not (an alert that fires again the next
    run is the same alert, as its fingerprint is)."""
    import pandas as pd

    from detectors.overspend import detect
    from vigil.handlers._common import cost_history

    cfg = _pipeline_config()
    history = cost_history(cfg)
    ts = series.frame["ChargePeriodStart"]
    flagged: set[date] = set()
    for i in range(WARMUP_DAYS, series.days):
        day = series.start + timedelta(days=i)
        now = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        rows = series.frame[(ts >= pd.Timestamp(now - history)) & (ts < pd.Timestamp(now))]
        days = [day - timedelta(days=k) for k in range(4) if i - k >= WARMUP_DAYS]
        for f in detect(rows, config=cfg, now=now, days=days):
            if f.status.value == "firing":
                first, last = date.fromisoformat(f.evidence["first_day"]), date.fromisoformat(f.evidence["day"])
                flagged.update(first + timedelta(days=k) for k in range((last - first).days + 1))
    return sorted(d for d in flagged if d - timedelta(days=1) not in flagged)


def _episodes_cli(series: Series) -> list[date]:
    from detectors.anomaly import score_timeseries

    flags = score_timeseries(series.dates(), series.daily_total, profile="cost", min_impact=50.0).is_anomaly
    out: list[date] = []
    for t in range(WARMUP_DAYS, len(flags)):
        if flags[t] and not flags[t - 1]:
            out.append(series.start + timedelta(days=t))
    return [d for d in out if d not in series.one_off_days]


RESTATE_DAYS = 365  # daily runs re-scored per restatement series
RESTATE_HISTORY = 120  # days of history each run scores (the model reads 8 weeks plus its error history)


def _restatement(series: Series) -> dict[str, int]:
    """Daily runs over the last year with the newest 3 days incomplete: flapping and incomplete-only flags."""
    from detectors.anomaly import score_timeseries

    dates, final = series.dates(), series.daily_total
    verdicts: dict[int, list[bool]] = {}
    for run in range(len(final) - RESTATE_DAYS, len(final) + 1):
        lo = max(0, run - RESTATE_HISTORY)
        seen = incomplete(final[lo:run])
        s = score_timeseries(dates[lo:run], seen, profile="cost", min_impact=50.0, provisional=3)
        for k in range(max(lo, run - 4), run):
            verdicts.setdefault(k, []).append(bool(s.is_anomaly[k - lo]))
    flaps = sum(1 for v in verdicts.values() if "101" in "".join("1" if b else "0" for b in v))
    early = sum(1 for v in verdicts.values() if any(v[:-1]) and not v[-1])
    return {"days": len(verdicts), "flapping_days": flaps, "flagged_only_while_incomplete": early}


def _episodes_baseline(series: Series) -> list[date]:
    x = series.daily_usage
    out: list[date] = []
    prev = False
    for t in range(WARMUP_DAYS, len(x)):
        h = x[t - 28 : t]
        flag = bool(x[t] > h.mean() + 3 * h.std() and x[t] - h.mean() > 50)
        if flag and not prev:
            out.append(series.start + timedelta(days=t))
        prev = flag
    return out


def _score(series: Series, episodes: list[date]) -> dict[str, Any]:
    matched: set[int] = set()
    results = []
    for a in series.anomalies:
        tol = _tolerance(a)
        hits = [e for e in episodes if a.start <= e <= a.start + timedelta(days=tol)]
        results.append({"kind": a.kind, "qualifies": a.qualifies, "detected": bool(hits),
                        "delay": (hits[0] - a.start).days if hits else None})  # fmt: skip
        matched.update(i for i, e in enumerate(episodes) if e in hits)
    false = [e for i, e in enumerate(episodes) if i not in matched]
    return {"anomalies": results, "false": len(false), "years": (series.days - WARMUP_DAYS) / 365.25}


def _one(seed: int) -> dict[str, Any]:
    s = generate(seed)
    clean = generate(seed, with_anomalies=False) if seed % 4 == 0 else None
    out: dict[str, Any] = {
        "pipeline": _score(s, _episodes_vigil(s)),
        "cli": _score(s, _episodes_cli(s)),
        "baseline": _score(s, _episodes_baseline(s)),
    }
    if clean is not None:
        out["pipeline_clean"] = _score(clean, _episodes_vigil(clean))
        out["cli_clean"] = _score(clean, _episodes_cli(clean))
        out["baseline_clean"] = _score(clean, _episodes_baseline(clean))
    daily = int(os.environ.get("VIGIL_BENCH_DAILY_EVERY", "4") or 0)
    if daily > 0 and seed % daily == 0:
        out["daily"] = _score(s, _episodes_daily(s))
    every = int(os.environ.get("VIGIL_BENCH_RESTATE_EVERY", "1") or 1)
    if seed % max(every, 1) == 0 and os.environ.get("VIGIL_BENCH_RESTATE", "1") != "0":
        out["restatement"] = _restatement(s)
    return out


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % for z = 1.96): how far a recall measured on ``n``
    anomalies can be from the recall the detector has. 120 series give ~130 qualifying anomalies, so a
    measured 0.92 is 0.86..0.95: one held-out range cannot tell 0.92 from 0.95."""
    if n <= 0:
        return None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def _summary(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    anomalies = [a for r in runs for a in r[key]["anomalies"]]
    qual = [a for a in anomalies if a["qualifies"]]
    years = sum(r[key]["years"] for r in runs) + sum(r[key + "_clean"]["years"] for r in runs if key + "_clean" in r)
    false = sum(r[key]["false"] for r in runs) + sum(r[key + "_clean"]["false"] for r in runs if key + "_clean" in r)
    per_kind = {}
    for kind in KINDS:
        ks = [a for a in qual if a["kind"] == kind]
        delays = [a["delay"] for a in ks if a["detected"]]
        per_kind[kind] = {
            "count": len(ks),
            "recall": round(sum(a["detected"] for a in ks) / len(ks), 3) if ks else None,
            "mean_delay_days": round(float(np.mean(delays)), 2) if delays else None,
            "max_delay_days": max(delays) if delays else None,
        }
    small = [a for a in anomalies if not a["qualifies"]]
    hits = sum(a["detected"] for a in qual)
    all_delays = [a["delay"] for a in qual if a["detected"] and a["kind"] != "ramp"]
    return {
        "recall": round(hits / len(qual), 4) if qual else None,
        "recall_interval_95": wilson(hits, len(qual)),
        "median_delay_days": float(np.median(all_delays)) if all_delays else None,
        "qualifying_anomalies": len(qual),
        "false_alerts_per_series_year": round(false / years, 3) if years else None,
        "false_alerts": false,
        "series_years": round(years, 1),
        "per_kind": per_kind,
        "recall_below_goal_size": round(sum(a["detected"] for a in small) / len(small), 3) if small else None,
    }


DEV_SEEDS = 0  # the seeds the cost model was tuned on: 0 .. n-1
HELD_OUT_SEEDS = 733000  # never used for tuning or looked at before its one scoring: 733000 .. 733000 + n - 1
# (session 10, written down after round 10 was scored on 617000..617479: the next round's, to be scored once on 480
# series, VIGIL_BENCH_SCALE=4. Retired after being looked at: 1000.., 2000.., 5000..5119, 9000..9119,
# 52000..52119, 61000..61119, 83000..83119, 97000..97119, 131000..131119, 211000..211479, 307000..307479,
# 419000..419479, 523000..523479, 617000..617479)


def _figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: _summary(runs, key) for key in ("pipeline", "cli", "baseline")}
    if any("daily" in r for r in runs):
        out["daily"] = _summary([r for r in runs if "daily" in r], "daily")
    restate = [r["restatement"] for r in runs if "restatement" in r]
    out["restatement"] = {
        k: sum(r[k] for r in restate) for k in ("days", "flapping_days", "flagged_only_while_incomplete")
    }
    out["restatement"]["series"] = len(restate)
    return out


def _meets(v: dict[str, Any]) -> bool:
    recall, fpy, delay = v["recall"], v["false_alerts_per_series_year"], v["median_delay_days"]
    return bool(
        recall is not None and recall >= GOAL_RECALL and fpy is not None and fpy <= GOAL_FALSE_PER_YEAR
        and delay is not None and delay <= GOAL_DELAY_DAYS
    )  # fmt: skip


def _side_by_side(results: dict[str, Any]) -> list[str]:
    """Development and held-out figures of each path in one row each (issue 16, point 5)."""
    names = list(results)
    head = f"  {'path':9}" + "".join(f" | {n + ' (' + results[n]['seeds'] + ')':63}" for n in names)
    sub = f"  {'':9}" + " | recall (95 % interval)  false/series-year  median delay  goals   " * len(names)
    lines = [head, sub.rstrip()]
    for path in ("cli", "pipeline", "daily", "baseline"):
        if not all(path in results[n] for n in names):
            continue
        cells = []
        for n in names:
            v = results[n][path]
            goals = "met" if _meets(v) else "NOT met"
            fpy = v["false_alerts_per_series_year"]
            lo_hi = v.get("recall_interval_95")
            recall = f"{v['recall']} ({lo_hi[0]}..{lo_hi[1]})" if lo_hi else str(v["recall"])
            cells.append(f" | {recall:23} {fpy!s:18} {v['median_delay_days']!s:13} {goals:7}")
        lines.append(f"  {path:9}" + "".join(cells))
    restate = "  restatement (daily runs, newest 3 days incomplete): " + "; ".join(
        f"{n}: {results[n]['restatement']['flapping_days']} flapping days, "
        f"{results[n]['restatement']['flagged_only_while_incomplete']} flagged only while incomplete "
        f"of {results[n]['restatement']['days']} days ({results[n]['restatement']['series']} series)"
        for n in names
    )
    return [*lines, restate]


def main() -> dict[str, Any]:
    scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
    n = max(8, round(120 * scale))
    ranges = {"development": DEV_SEEDS, "held_out": HELD_OUT_SEEDS}
    if os.environ.get("VIGIL_BENCH_HELD_OUT", "1") == "0":
        ranges.pop("held_out")
    if os.environ.get("VIGIL_BENCH_DEV", "1") == "0":
        ranges.pop("development")
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for name, off in ranges.items():
            print(f"cost_scenarios: {name}: {n} series of 730 days, seeds {off}..{off + n - 1}", file=sys.stderr)
            results[name] = _figures(list(pool.map(_one, range(off, off + n))))
            results[name]["seeds"] = f"{off}..{off + n - 1}"
    elapsed = time.perf_counter() - t0
    table = {
        f"{name} {path}": {
            "recall": r[path]["recall"],
            "false_alerts_per_series_year": r[path]["false_alerts_per_series_year"],
            "median_delay_days": r[path]["median_delay_days"],
            "meets_goals": _meets(r[path]),
        }
        for name, r in results.items()
        for path in ("cli", "pipeline", "daily", "baseline")
        if path in r
    }
    for line in _side_by_side(results):
        print(line, file=sys.stderr)
    judged = results.get("held_out") or results["development"]
    cli, base = judged["cli"], judged["baseline"]
    return {
        "name": "cost_scenarios",
        "unit": "recall of anomalies >= 3 sigma and > 50 units (held-out seeds, CLI path)",
        "value": cli["recall"],
        "baseline": base["recall"],
        "ratio": round(cli["recall"] / base["recall"], 3) if cli["recall"] and base["recall"] else None,
        "goal": GOAL_RECALL,
        "pass": bool(
            _meets(judged["cli"])
            and _meets(judged["pipeline"])
            and scale >= 1
            and "held_out" in results
            and _meets(judged.get("daily", judged["pipeline"]))
            and judged["restatement"]["flapping_days"] == 0
        ),
        "false_alerts_per_series_year": cli["false_alerts_per_series_year"],
        "goal_false_alerts_per_series_year": GOAL_FALSE_PER_YEAR,
        "median_delay_days": cli["median_delay_days"],
        "goal_delay_days": GOAL_DELAY_DAYS,
        "table": table,
        "results": results,
        "series": n,
        "seconds": round(elapsed, 1),
        "scale": scale,
    }
