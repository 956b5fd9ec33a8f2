"""Cost profile: one-sided, seasonal, robust scoring of a regular spend series, with real billing in it.

For row t the model looks only at the ``cycles`` seasonal cycles before t (laid
on a calendar grid, so gaps stay gaps). What it learns from leaves out holidays
(``holiday``, detectors/anomaly/holidays.py), the newest ``provisional`` rows (still
incomplete; the export restates them later) and, when enough other days are left,
days at zero cost (a dev subscription switched off):

- seasonal effect per phase (weekday for daily data, hour for hourly data): mean
  of the values at that phase minus the median, leaving out values more than ``clip``
  robust sigmas from that phase's median, over the last ``season_cycles`` cycles (round
  10: twice the ``cycles`` of the level's window, which halves the seasonal effect's
  variance; never further back than the window of the last rebase, whose history was
  rewritten into the new regime);
- level: mean of the de-seasonalised values of the last ``level_cycles`` cycles,
  leaving out values more than ``clip`` robust sigmas from their median;
- trend: Theil-Sen slope over the per-cycle medians, damped, projected from the
  centre of the last cycles to t;
- autocorrelated noise: the model's errors are taken as an AR(1) whose coefficient
  (least squares over past pairs of consecutive normal days, in [0, ``max_rho``]) carries
  part of yesterday's error into today's forecast; an anomalous day's error is not carried,
  and when yesterday's error is unknown (a holiday, a gap, an anomaly, an incomplete day) the
  scale is the AR(1)'s whole variance, the innovations' over 1 - rho^2;
- monthly recurring charges (daily rows with ``days``): a lone excess (its neighbours
  normal) on a billing day is remembered; on the same day of the next months (clipped
  to the month's end; ``recurrence_months`` back, billing days before the model could
  judge read against today's model) the expected value includes its latest amount,
  and the day is judged in currency against the usage noise of both days, so a
  charge billed again at its amount is normal and a changed amount is an anomaly; the
  earlier billings whose excess equals the latest within that noise are averaged with it
  (each excess is the amount plus one day's usage noise), weighted by the inverse of that
  noise's variance (round 10), so a billing on a quiet day says the amount best; a billing
  day where the charge did not come ends it (round 10): no later month expects it unless
  it is billed again, and that day teaches the scale the usage's error;
- scale: RMS of the model's own past one-step errors (so it is the scale of
  *prediction* errors, level and season estimation included), errors beyond 3
  MAD-sigmas left out, widened when the upper half of the errors has a heavier
  tail, and by a small-sample factor (1 + 4/n) for n errors; before there are
  ``min_cycles`` cycles of errors, the within-cycle spread, widened while the
  history is short. When the errors at t's own phase (weekday) have a larger RMS than
  the pooled scale, that RMS: noise that differs by phase (busy weekdays, quiet weekends
  priced mostly by flat charges) must not make the busy days alarm. Never below a small
  share of the level.

- holidays (round 5): spend on a holiday differs from other days' (offices closed), so a spike on a
  quiet holiday can stay below a normal day. The model's errors on past holidays (without a recurring
  charge) are remembered; once there are ``min_cycles`` of them, a holiday's forecast is shifted by
  their median and its scale is at least their RMS about it (times the small-sample factor 1 + 4/n; round 6:
  of the errors within 3 MAD-sigmas, over 0.9733, as the scale of the other errors, so one purchase or
  billing that fell on a holiday does not widen it for every later holiday),
  widened by the median's own variance, pi/2 spread^2/n. A holiday that is also a billing day gets the
  shift too, on the usage under the charge, and teaches it the usage's error (round 8); the charge's
  amount is then its excess over that holiday usage, as on any billing day (round 9: before, a holiday
  billing let the next month's amount be anything up to the holiday's whole cost, which is right only
  where no shift models the usage under it, so a changed amount billed after it was never seen). A
  holiday at zero cost turns the shift off for good (the spend is switched off on holidays: what later
  holidays cost is what was left on, a flat cost that follows neither the weekly season nor the usage,
  which no shift describes), and a change that becomes the baseline forgets the errors (they measured
  the regime before it).
- holidays switched off (round 8): there, a holiday goes one of two ways: switched off, costing what the
  latest holiday cost (zero, or the flat cost left on), or left on as any day (the usual model), weighted
  by how often past holidays went each way (Laplace's rule of succession, over the holidays since the last
  rebase where the two ways differ by ``sensitivity`` sigmas; on a dev subscription a weekend costs what a
  switched-off holiday does). Round 9: the day is judged by how far it lies from the way that explains it,
  its z the normal quantile of w_on Phi(-|z_on|) + w_off Phi(-|z_off|), the mixture's probability of a day
  at least as far from its own way (for one way alone, |z| itself); only spend above the switched-off way
  counts, and below a usual day the excess is over what a switched-off holiday costs. So a spike on a
  holiday at zero is seen though it stays below a usual day, a holiday left on is no alarm where holidays
  were left on before, a spike a little above a usual day is one where they never were, and so is a spike
  that leaves a switched-off holiday between the two ways (round 8 judged the day by the upper tail of the
  mixture alone, which the left-on way covers whenever the day is below a usual one: such a spike was seen
  only when ``sensitivity`` sigmas below a usual day).

z = (x_t - expected_t) / scale. Only increases score: a drop is never overspend.

Three checks flag a row (``min_impact`` gates each):

- one-step: z at or above ``sensitivity`` (a spike, or the first day of a step);
- sustained: a one-sided CUSUM of z (each day's z capped at ``cusum_cap``, less
  ``cusum_k``) at or above ``cusum_h``, so a ramp or a step too small for the
  one-step check is caught once it adds up; its impact is the mean daily excess
  since the CUSUM last left zero, or over the run's latest cycle when larger (a ramp's
  excess grows). Holidays and incomplete rows do not enter it;
- drift (log model): a gradual shift such as a ramp, which the one-step model absorbs
  (its level is the last two cycles' and the AR(1) carry follows the errors, so each
  day's z stays small and the CUSUM never adds up): the lift of the last cycle's
  de-seasonalised level (clipped mean, today included) over the level of the cycles
  before the last two, minus the median of past lifts (a steady trend lifts every day
  alike), in units of the RMS of past lifts about that median, times the small-sample
  factor 1 + 4/n of ``_error_scale`` with n counting cycles, not rows (consecutive lifts
  share all but one day). The lifts of the last ``level_cycles`` cycles are left out of
  that scale, as the reference leaves out those cycles, so a drift under way does not
  widen its own yardstick; when a change becomes
  the baseline, the lifts of the window whose history is rewritten are dropped (they
  measured that change, not the noise). Flagged at or above ``sensitivity`` when the
  lift's daily cost is at least ``min_impact``; days flagged otherwise do not teach the
  lifts. Holidays and incomplete rows are not judged by it.

One change gives one episode of consecutive flagged rows: a one-step alarm lifts
the CUSUM to ``cusum_h - cusum_lift``, so the day after a step stays flagged when
its z is at least ``cusum_k + cusum_lift``; the CUSUM is restarted from zero when an
episode ends. An episode lasts at most ``max_episode`` days: then the change is the
new normal (``rebased`` marks the row, whose expected value is the new baseline) and,
when more than a lone run of its rows (``_lone``: 2) were seen complete and off a holiday
(round 10), the history before it is rewritten into the new regime, multiplicatively or
additively, whichever fits the days since the change better, so that the same
change does not fire again. When the additive hypothesis wins (a cost added at a flat amount,
such as a new resource, which carries no usage noise of its own), the same currency noise is a
smaller share of the new level: the model's past errors and the drift lifts kept, both in log
units, are rescaled by (level + offset) / (level + added + offset), phase by phase for the errors
(round 7), so a later spike is judged against the usage noise, not against the errors of the
smaller regime that the error window would otherwise keep for ``resid_cycles`` cycles.
A holiday does not end an episode under way (it is flagged
with it when complete); nor does an incomplete row (round 6): it is held in the episode,
unflagged (a holiday too), and counted in its length, so a daily run whose newest rows are
still incomplete rebases a lasting change on the row the complete series does.

Constants and the data they were tuned on:

============================================  ==================================================
constant                                      basis
============================================  ==================================================
sensitivity 3.0, cusum_k 0.5, cusum_h 5.5,    the previous model's, chosen on the project's
cusum_cap 3.0, cusum_max 3.0, cusum_lift 1.0,  earlier generator, seeds 0..119 (before issue 16)
clip 3.5, trend_damping 0.5, level_cycles 2,
resid_cycles 16, rel_floor 0.02,
warmup_widen 10
1.3 (warm-up spread), 1.15 (upper-tail RMS),  the same earlier generator, seeds 0..119
1 + 4/n (small-sample factor)
max_episode 7                                 the issue's requirement
max_rho 0.9, recurrence_months 3              set before any measurement
season_cycles 16                              round 10: 16 (= resid_cycles) against 8 (= cycles),
                                              the only two values tried, on development seeds
                                              0..119 with the spent 307000.. and 419000.. as
                                              diagnostic sets
2 (longest run of excess days read as         set after held-out seeds 52000..52119 showed
billings, ``_lone``)                          charges on the 1st and 2nd; judged on 61000..
0.9733, 1.4826, 1 - rho^2                     Gaussian and AR(1) identities, not tuned
drift: no new tuned constant (reference =     structure chosen on bench/cost_scenarios
the cycles before the ``level_cycles`` of     development seeds 0..119 (round 4); reuses
the level window, threshold                   sensitivity, clip, level_cycles, resid_cycles,
``sensitivity``, lifts' scale lagged by       min_cycles and the 1e-9 guard of the scale,
``level_cycles``, one lift per cycle, at      the 1 + 4/n factor
least half the last cycle's days present)
holiday shift: no new tuned constant (at      structure chosen on bench/cost_scenarios
least ``min_cycles`` past holidays, the last  development seeds 0..119 (round 5); reuses
``resid_cycles`` cycles' worth, median        min_cycles, resid_cycles and the 1 + 4/n factor;
shift, RMS spread; round 6: the RMS of the    pi/2 (variance of a median) is an identity; round 6
errors within 3 MAD-sigmas, ``_inner_rms``)   reuses ``_error_scale``'s 3 and 0.9733 (development
                                              seeds 0..119: recall and false alerts unchanged)
holidays switched off: no new tuned constant  structure chosen on development seeds 0..119 with the
(the latest holiday's cost, Laplace's rule    spent ranges 211000..211479 and 307000..307479 as
of succession (n_on + 1) / (n + 2), the       diagnostics (round 8); reuses sensitivity. Round 9
normal tail, ``sensitivity`` for "the two     (the distance to each way, which drops "clearly below"):
ways differ"; round 9: each way's two-sided   the same, with the spent 419000..419479 as diagnostics
distance, no constant)
============================================  ==================================================

The round-3 changes (the AR(1) whole variance when yesterday is unknown, the per-phase
error RMS, averaged recurring amounts, the ramp's recent impact) add no constant; they were
chosen on bench/cost_scenarios development seeds 0..119 only. So was the round-4 drift
check, with the held-out range 83000..83119 written down before it began, and the round-5
holiday shift, with 97000..97119 written down before it began. Round 6 (131000..131119 written down
before it began) adds no constant and changes no detection figure on development seeds 0..119: the
holiday shift's spread leaves out errors beyond 3 MAD-sigmas (a purchase on Thanksgiving was hidden or
not depending on which holidays a daily run's history held), and an incomplete row is held in an episode
under way (restatement over all 120 development series: 1 flapping day and 4 days flagged only while
incomplete, was 1 and 6). Round 7 (307000..307479 written down before it began) adds no constant: the
rescaling of the errors and lifts after an additive rebase follows from the log transform (its
factor is a derivative, not a fit); chosen on development seeds 0..119 (CLI recall 0.913 -> 0.9203,
pipeline 0.920 -> 0.9348) with the spent range 211000..211479 as a second diagnostic set. A
per-weekday scale that may also narrow (a chi-square test at 1 %) was tried in the same round and
rejected: more false alerts, no recall on either set. Round 8 (419000..419479 written down before it
began) adds no constant: a holiday billing day gets the holiday shift, and holidays switched off are
judged against what a switched-off holiday costs; chosen on development seeds 0..119 with the spent
211000..211479 and 307000..307479 as diagnostic sets (a spike on Independence Day 2025 held 7 of the
spike misses of 307000..). Round 9 (523000..523479 written down before it began) adds no constant: a
holiday switched off is judged by its distance to each way a holiday goes, and a charge billed on a
holiday with the holiday shift is read against holiday usage; chosen on development seeds 0..119 with the
spent 307000..307479 and 419000..419479 as diagnostic sets (development: recall unchanged, 172 -> 171
CLI false alerts; 419000..: CLI 463 -> 465 hits, 725 -> 721 false alerts; 307000..: 432 -> 430 hits, two
spike and step days whose score moved from just above to just below the threshold, 706 -> 701 false
alerts). Round 10 (617000..617479 written down before it began) adds one constant, ``season_cycles`` (the
season read from 16 cycles), and fixes four things that diagnostics on the spent ranges showed (development
seeds 0..119 with 307000..307479 and 419000..419479): a billing day without its charge ends the charge's
memory and teaches the scale the usage's error (every lone excess taken for a charge put one large error into
its weekday's scale for 16 cycles); past holidays' errors carried through a rebase under the hypothesis that
won it, not forgotten; recurring amounts averaged with inverse-variance weights; no history rewritten for an
episode with no more than two rows seen (a purchase before the Christmas holidays). Development CLI: 127 -> 131
of 138 anomalies, 207 -> 235 false alerts; 307000..: 430 -> 445 of 480, 834 -> 994; 419000..: 465 -> 471 of
507, 852 -> 984 (clean series included). A lower threshold buys recall at about 1 hit per 22 false alerts on
307000.. (sensitivity 2.9: 435, 944); these changes buy about 1 per 10. Nothing in this module was tuned on
held-out seeds.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CostParams", "CostScores", "score_cost"]

FloatArray = npt.NDArray[np.float64]
_MAD = 1.4826
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class CostParams:
    period: int = 7
    cycles: int = 8
    min_cycles: int = 3
    sensitivity: float = 3.0
    min_impact: float = 0.0
    rel_floor: float = 0.02
    trend_damping: float = 0.5
    resid_cycles: int = 16
    level_cycles: int = 2
    clip: float = 3.5  # level and season leave out values this many robust sigmas from the median
    warmup_widen: float = 10.0  # scale x (1 + warmup_widen / dof) before errors are known
    cusum_k: float = 0.5  # allowance per row, in z units; 0 turns the sustained check off
    cusum_h: float = 5.5
    cusum_cap: float = 3.0  # a row's z enters the CUSUM capped here: one spike is not a shift
    cusum_max: float = 3.0  # cap of the CUSUM, in multiples of cusum_h
    cusum_lift: float = 1.0  # a one-step alarm lifts the CUSUM to cusum_h - cusum_lift
    log: bool = True  # model log(cost + offset): multiplicative season and noise
    offset: float = 1.0
    max_episode: int = 7  # days a lasting change stays flagged before it becomes the baseline
    rows_per_day: int = 1
    recurrence_months: int = 3  # billing days looked back for a monthly recurring charge
    season_cycles: int = 16  # cycles the seasonal effect is read from (round 10; ``cycles`` before)
    max_rho: float = 0.9  # cap of the AR(1) coefficient of the model's errors (1 would be a random walk)


def _score(z: float, sensitivity: float) -> float:
    if not z > 0:
        return 0.0
    return 1.0 - math.pow(2.0, -((z / sensitivity) ** 2))


def _fmed(a: FloatArray, axis: int | None = None) -> FloatArray:
    """Median without NaN, by sorting: much cheaper than np.median on tiny arrays."""
    if axis is None or a.ndim == 1:
        srt = np.sort(a, axis=None)  # flattened
        m = srt.shape[0]
        return np.asarray((srt[(m - 1) // 2] + srt[m // 2]) / 2.0, dtype=np.float64)
    srt = np.sort(a, axis=axis)
    m = srt.shape[axis]
    lo = np.take(srt, (m - 1) // 2, axis=axis)
    hi = np.take(srt, m // 2, axis=axis)
    return np.asarray((lo + hi) / 2.0, dtype=np.float64)


def _median(a: FloatArray, axis: int | None = None, *, has_nan: bool) -> FloatArray:
    """Median leaving out NaN (NaN where a slice has no value): np.nanmedian's values, by one sort.

    np.nanmedian goes through masked arrays on small inputs, which made it most of the cost
    profile's run time; sorting puts NaN last, so the middle of the valid values is indexed directly
    (1-D, or along either axis of a 2-D array: the only shapes the model has).
    """
    if not has_nan:
        return _fmed(a, axis)
    if axis is None or a.ndim == 1:
        srt = np.sort(a, axis=None)
        cnt = int(np.count_nonzero(~np.isnan(srt)))
        if cnt == 0:
            return np.asarray(np.nan)
        return np.asarray((srt[(cnt - 1) // 2] + srt[cnt // 2]) / 2.0, dtype=np.float64)
    b = a if axis == a.ndim - 1 or axis == -1 else a.T  # the median runs along b's last axis
    srt = np.sort(b, axis=-1)
    cnt = (~np.isnan(srt)).sum(axis=-1)
    rows = _arange(b.shape[0])
    lo = srt[rows, np.maximum(cnt - 1, 0) // 2]
    hi = srt[rows, cnt // 2 - (cnt == 0)]
    return np.where(cnt > 0, (lo + hi) / 2.0, np.nan)


@functools.lru_cache(maxsize=64)
def _arange(n: int) -> npt.NDArray[np.intp]:
    out = np.arange(n)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True)
class CostScores:
    score: FloatArray
    flags: npt.NDArray[np.bool_]
    expected: FloatArray
    scale: FloatArray
    reasons: list[str | None]
    rebased: npt.NDArray[np.bool_]  # the row where a lasting change became the new baseline
    recurring: FloatArray  # monthly recurring charge included in ``expected`` (0 when none)


@functools.lru_cache(maxsize=4096)
def _anniversaries(day: np.datetime64, months: int) -> tuple[int, ...]:
    """Day numbers of the same billing day in each of the ``months`` previous months (clipped to month end;
    a month-end day also maps to the previous months' ends). Cached: every series of a run has the same days."""
    d = date.fromisoformat(str(day))
    end = _month_len(d.year, d.month) == d.day
    out = []
    for k in range(1, months + 1):
        y, m = divmod(d.year * 12 + d.month - 1 - k, 12)
        last = _month_len(y, m + 1)
        out.append((date(y, m + 1, last if end else min(d.day, last)) - _EPOCH_DATE).days)
    return tuple(out)


def _month_len(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days


_EPOCH_DATE = date(1970, 1, 1)


def score_cost(
    x: FloatArray,
    p: CostParams,
    positions: npt.NDArray[np.int64] | None = None,
    *,
    days: npt.NDArray[np.datetime64] | None = None,
    holiday: npt.NDArray[np.bool_] | None = None,
    provisional: int = 0,
) -> CostScores:
    """Scores, verdicts, expected values, scales, per-row reasons (None when judged) and rebase rows.

    ``positions``: each row's slot on a regular calendar grid (day or hour number), so
    that gaps keep the seasonal phase right; default: the row index.
    ``days``: each row's date (daily rows), which turns on the monthly recurrence;
    ``holiday``: rows on a holiday; ``provisional``: the last rows, still incomplete.
    """
    raw = x
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.log(np.maximum(raw, 0.0) + p.offset) if p.log else raw.copy()
    n = len(x)
    per = p.period
    window = per * p.cycles
    min_hist = per * p.min_cycles
    scores = np.full(n, np.nan)
    flags = np.zeros(n, dtype=bool)
    expected = np.full(n, np.nan)
    scales = np.full(n, np.nan)
    rebased = np.zeros(n, dtype=bool)
    recurring = np.zeros(n, dtype=float)
    reasons: list[str | None] = [None] * n
    hol = np.zeros(n, dtype=bool) if holiday is None else np.asarray(holiday, dtype=bool)
    prov = np.zeros(n, dtype=bool)
    if provisional > 0:
        prov[max(0, n - provisional) :] = True
    # What later rows learn from: no holidays, no incomplete rows; off (zero-cost) rows only as a fallback.
    hist_all = np.where(hol | prov, np.nan, x)
    hist = np.where(np.maximum(raw, 0.0) > 0, hist_all, np.nan)
    day_arr = None if days is None else np.asarray(days).astype("datetime64[D]")
    day_no = None if day_arr is None else day_arr.astype(np.int64)
    excess_by_day: dict[int, tuple[float, float, float]] = {}  # day number -> (notable excess, its scale, cost)
    unbilled: set[int] = set()  # day numbers where a recurring charge was expected and did not come
    usage_unknown: set[int] = set()  # day numbers of holidays with no model of their usage (no holiday shift)
    resid = _Tail(n)
    resid_phase = _Tail(n, dtype=np.int64)  # the seasonal phase of each error in ``resid``
    pairs = _Tail(n, width=2)  # (error, next day's error) of consecutive normal days
    lifts: list[float] = []  # drift lifts (``_drift``) of the days without alarm
    lift_pos: list[int] = []  # the position of each lift in ``lifts``
    hol_resid: list[float] = []  # the usage's errors on past holidays that cost something (a charge billed left out)
    hol_off = False  # a past holiday cost nothing (switched off): no holiday shift
    hol_cost: list[float] = []  # past holidays' usage (model units) since the last rebase
    hol_on: list[bool] = []  # how those went, where the two ways differ: True when left on as any day
    prev_e: float | None = None  # the model's error on the previous row, when it was a normal day
    last_pos = -(10**9)
    row_of_day = {} if day_no is None else {int(dn): i for i, dn in enumerate(day_no)}
    judged_days: set[int] = set()
    cs = 0.0  # one-sided CUSUM of the capped z
    run_excess, run_days = 0.0, 0  # excess (cost units) and rows since the CUSUM last left zero
    run_recent: list[float] = []  # the excess of the run's latest rows (one seasonal cycle)
    in_episode, ep_start, ep_len = False, 0, 0
    season_floor = -(10**12)  # the season reads no further back than the window of the last rebase
    if positions is None:
        positions = np.arange(n, dtype=np.int64)
    window_lo = np.searchsorted(positions, positions - window, side="left")  # each row's first history row
    for t in range(n):
        xt = float(x[t])
        if math.isnan(xt):
            reasons[t] = "value is missing (NaN or gap)"
            continue
        pt = int(positions[t])
        if in_episode and ep_len >= p.max_episode * p.rows_per_day:
            # A change that lasts this long is the new normal: learn the level from its start.
            rebased[t] = True
            in_episode, ep_len = False, 0
            cs, run_excess, run_days, run_recent = 0.0, 0.0, 0, []
        first = pt - window
        lo = int(window_lo[t])
        cut = int(np.searchsorted(positions, ep_start, side="left")) if rebased[t] else t
        if rebased[t] and int(np.isfinite(hist_all[cut:t]).sum()) > _LONE_DAYS:
            # (round 10) only rows seen complete and off a holiday say what the new level is: a one-day purchase
            # followed by the Christmas holidays kept an episode open for 7 days with one such row, and the whole
            # history was rewritten to that purchase's level; with no more than a lone run's worth of them
            # (``_lone``), the episode ends and the history stays as it was
            off = p.offset if p.log else None
            season_floor = first
            shrink = _rebase_history(hist, positions, lo=lo, cut=cut, t=t, per=per, offset=off)
            _rebase_history(hist_all, positions, lo=lo, cut=cut, t=t, per=per, offset=off)
            # the lifts read from the window's history before it was rewritten measured the change, not noise
            keep = sum(1 for q in lift_pos if q < first)
            del lifts[keep:], lift_pos[keep:]
            if shrink is not None and len(resid) and bool(np.any(shrink != 1.0)):
                # an added cost carries no usage noise: the same currency noise is a smaller share of the new level,
                # so the errors learnt before it (log units) are rescaled to it, phase by phase
                errs_all = resid.last(len(resid))
                errs_all *= shrink[resid_phase.last(len(resid))]
                # the drift lifts kept (read before the window) are log-level differences of that regime too
                lifts[:] = [v * float(np.mean(shrink)) for v in lifts]
            if shrink is not None:
                # (round 10) past holidays' errors carried into the new regime, not forgotten (a spike on the first
                # holidays after a new resource was judged against a usual day): unchanged by a change that
                # multiplies the usage; under an added cost (which runs on holidays too) a holiday's cost e^h F
                # becomes e^h F + A against a forecast of F + A, its error log(r e^h + 1 - r), r = F / (F + A)
                r_add = float(np.mean(shrink))
                moved = [r_add * math.exp(h) + 1.0 - r_add for h in hol_resid]
                # a cost removed that exceeds what a past holiday cost: that holiday says nothing of the new regime
                hol_resid[:] = [math.log(v) for v in moved if v > 0]
            else:
                hol_resid.clear()  # past holidays' errors measured the regime before the change
            hol_cost.clear()  # and so did their costs: what holidays cost now is learnt again
            hol_on.clear()
        src = hist
        vals = hist[lo:t]
        ok = ~np.isnan(vals)
        count = int(ok.sum())
        if count < min_hist:
            src = hist_all
            vals = hist_all[lo:t]
            ok = ~np.isnan(vals)
            count = int(ok.sum())
        if count < min_hist:
            reasons[t] = f"too little history: {count} valid points before this one, needs {min_hist}"
            continue
        grid = np.full(window, np.nan)
        slots = positions[lo:t] - first
        grid[slots[ok]] = vals[ok]
        has_nan = count < window or bool(np.isnan(grid).any())
        g = grid.reshape(p.cycles, per)  # row -1 = the last cycle; column 0 = t's phase
        med = float(_median(grid, has_nan=has_nan))
        if p.season_cycles > p.cycles:
            # (round 10) the season from the last ``season_cycles`` cycles, but never from before the window of
            # the last rebase (whose history was rewritten into the new regime; older rows were not): twice the
            # rows of the level's window halve the variance of the seasonal effect, which the AR(1) carry does
            # not take off the forecast's error
            first_s = max(pt - per * p.season_cycles, season_floor)
            lo_s = int(np.searchsorted(positions, first_s, side="left"))
            vs = src[lo_s:t]
            oks = ~np.isnan(vs)
            grid_s = np.full(per * p.season_cycles, np.nan)
            grid_s[positions[lo_s:t][oks] - (pt - per * p.season_cycles)] = vs[oks]
            med_s = float(_median(grid_s, has_nan=True))
            season = _clipped_col_mean(grid_s.reshape(p.season_cycles, per) - med_s, p.clip, has_nan=True)
        else:
            season = _clipped_col_mean(g - med, p.clip, has_nan=has_nan)
        season = np.where(np.isnan(season), 0.0, season)
        season -= float(_fmed(season))
        d = g - season
        bmed = _median(d, axis=1, has_nan=has_nan)[::-1]  # index 0 = most recent cycle
        dev = np.abs(d - bmed[::-1, None])
        slope = _theil_sen(bmed, per) * p.trend_damping
        recent_d = d[-p.level_cycles :].ravel()
        recent_d = recent_d[~np.isnan(recent_d)]
        if recent_d.size >= 3:
            level = _clipped_mean(recent_d, p.clip)
            back = (per * p.level_cycles + 1) / 2.0
        else:
            level, back = (float(bmed[0]) if not math.isnan(bmed[0]) else med), (per + 1) / 2.0
        exp_t = level + slope * back + float(season[0])
        exp_model = exp_t
        # Autocorrelated noise: the model's errors follow an AR(1); its coefficient, estimated from the
        # past pairs of consecutive normal days, carries part of yesterday's error into today's forecast.
        rho = 0.0
        if len(pairs) >= min_hist:
            pa = pairs.last(per * p.resid_cycles)
            den = float(np.sum(pa[:, 0] ** 2))
            rho = min(max(float(np.sum(pa[:, 0] * pa[:, 1])) / den, 0.0), p.max_rho) if den > 0 else 0.0
            if prev_e is not None:
                exp_t += rho * prev_e
        scale = _MAD * float(_median(dev, has_nan=has_nan)) * 1.3
        if len(resid) >= min_hist:
            errs = resid.last(per * p.resid_cycles)
            scale = _error_scale(errs)
            same = errs[resid_phase.last(per * p.resid_cycles) == pt % per]
            if same.size >= p.min_cycles:
                # Noise that differs by phase (busy weekdays, quiet weekends priced mostly by flat charges):
                # this phase's own error RMS, when larger, so its busier days do not alarm on their noise.
                scale = max(scale, _phase_rms(same))
            if prev_e is None and rho > 0:
                # Yesterday's error is unknown (a holiday, a gap, an anomaly, an incomplete day): today's
                # forecast error is the AR(1)'s whole variance, 1 / (1 - rho^2) times its innovations'.
                scale /= math.sqrt(1.0 - rho * rho)
        else:
            # Few cycles: the spread within them understates the error of a forecast from them.
            scale *= 1.0 + p.warmup_widen / max(count - per - p.cycles, 1)
        scale = max(scale, p.rel_floor if p.log else p.rel_floor * abs(level), 1e-9)
        sens = p.sensitivity
        exp_pre, scale_pre = exp_t, scale  # before any holiday shift: holidays' errors are read against them
        z_hol: float | None = None
        shifted = False  # a holiday whose usage the holiday shift models
        if hol[t] and len(hol_resid) >= p.min_cycles and not hol_off:
            shifted = True
            # Holidays: spend on them differs from other days (offices closed, batch jobs paused), so
            # the model's forecast is shifted by the median of past holidays' errors, and the scale is at
            # least their spread about it: a spike on a holiday is judged against holiday spend. On a billing
            # day too (round 8): the shift is the usage's, under the charge.
            past_h = np.asarray(hol_resid[-per * p.resid_cycles :])
            shift_h = float(_fmed(past_h))
            # their spread as the scale of the other errors is (``_inner_rms``): one charge or spike that fell
            # on a holiday (a purchase, a billing day whose last billing is before the history) is not spread
            spread_h = _inner_rms(past_h - shift_h) * (1.0 + 4.0 / past_h.size)
            exp_t += shift_h
            # the shift is a median of n errors: its own variance, pi/2 spread^2/n, adds to the forecast's
            scale = math.sqrt(max(scale, spread_h) ** 2 + math.pi / 2.0 * spread_h**2 / past_h.size)
        elif hol[t] and hol_off and hol_cost:
            # Switched off on holidays (round 8): what a holiday costs is what is left on, a flat cost that
            # follows neither the weekly season nor the usage, so a spike on a holiday at zero, or at the flat
            # cost left on, can stay below a usual day. Two ways a holiday goes: switched off (the latest
            # holiday's cost) or left on as any day (the usual model), weighted by how often past holidays
            # went each way (Laplace's rule of succession). Round 9: the day is judged by how far it lies from
            # the way that explains it, half the mixture's probability of a day at least as far from its own
            # way (for one way alone, the normal tail of |z|): a holiday left on is not an alarm where holidays
            # were left on before, and is one where they never were; a spike that leaves a switched-off holiday
            # between the two ways is one too (round 8's upper tail alone: only when clearly below a usual day).
            z_on, z_off = (xt - exp_t) / scale, (xt - hol_cost[-1]) / scale
            w_on = (sum(hol_on) + 1) / (len(hol_on) + 2)
            tail = w_on * _NORMAL.cdf(-abs(z_on)) + (1.0 - w_on) * _NORMAL.cdf(-abs(z_off))
            z_hol = -_NORMAL.inv_cdf(max(tail, 1e-300)) if z_off > 0 else 0.0  # only spend above the off way
            if z_on < 0:
                exp_t = hol_cost[-1]  # below a usual day: the excess is over what a switched-off holiday costs
        base = math.exp(exp_t) - p.offset if p.log else exp_t
        base_scale = math.exp(exp_t) * (math.exp(scale) - 1.0) if p.log else scale
        rec, rec_scale, rec_hi, billed = 0.0, 0.0, 0.0, False
        if day_arr is not None and day_no is not None:
            base_excess = float(raw[t]) - base
            base_z = base_excess / base_scale if base_scale > 0 else 0.0
            anniversaries = _anniversaries(day_arr[t], p.recurrence_months)
            for j, prev in enumerate(anniversaries):
                if prev in unbilled:
                    break  # (round 10) the latest billing day went without the charge: it ended, or never was one
                if _lone(excess_by_day, prev):
                    # a lone excess (not part of a lasting change) on the same billing day:
                    # the latest amount of a charge recurring on this day
                    rec, rec_scale, billed_raw = excess_by_day[prev]
                    # on a holiday without a model of its usage (no holiday shift) the usage under the charge
                    # is unknown (anything from 0 to the model's value): the amount lies between the excess and
                    # the whole day's cost; with the shift it is read against holiday usage (round 9)
                    rec_hi = billed_raw if prev in usage_unknown else rec
                    if prev not in usage_unknown:
                        # Each billing's excess is the amount plus that day's usage noise: earlier billings
                        # of the same amount (equal within the noise of both) average that noise down.
                        amounts, variances = [rec], [rec_scale**2]
                        for older in anniversaries[j + 1 :]:
                            if _lone(excess_by_day, older) and older not in usage_unknown:
                                e_o, s_o, _raw = excess_by_day[older]
                                if abs(e_o - rec) <= p.sensitivity * math.hypot(s_o, rec_scale):
                                    amounts.append(e_o)
                                    variances.append(s_o**2)
                        # (round 10) weighted by the inverse of each one's noise variance, the least-variance
                        # mean: a billing on a quiet day (a weekend, a dev subscription's) says the amount best
                        weights = [1.0 / max(v, 1e-18) for v in variances]
                        rec = rec_hi = sum(a * w for a, w in zip(amounts, weights, strict=True)) / sum(weights)
                        rec_scale = 1.0 / math.sqrt(sum(weights))
                    break
                k = row_of_day.get(prev)
                if k is not None and prev not in judged_days and k >= lo:
                    # billed before the model could judge (warm-up): its excess over today's model of that weekday
                    col = (int(positions[k]) - first) % per
                    e_prev = exp_model - float(season[0]) + float(season[col])
                    b_prev = math.exp(e_prev) - p.offset if p.log else e_prev
                    exc = float(raw[k]) - b_prev
                    bs = math.exp(e_prev) * (math.exp(scale) - 1.0) if p.log else scale
                    if exc >= p.min_impact and exc >= p.sensitivity * bs:
                        rec, rec_scale = exc, bs
                        rec_hi = float(raw[k]) if hol[k] else rec
                        break
            if base_z >= p.sensitivity and base_excess >= p.min_impact:
                excess_by_day[int(day_no[t])] = (base_excess, base_scale, float(raw[t]))
                if hol[t] and not shifted:
                    usage_unknown.add(int(day_no[t]))
            judged_days.add(int(day_no[t]))
        exp_usage = exp_t  # the usage's forecast, without a charge: its error is what teaches the scale
        if rec > 0:
            rec = min(max(float(raw[t]) - base, rec), rec_hi)  # the amount within what the billing allows
            exp_t = math.log(base + rec + p.offset) if p.log else base + rec
            recurring[t] = rec
            billed = float(raw[t]) - base >= rec / 2  # else the charge did not come this month
            if not billed and not prov[t] and day_no is not None:
                unbilled.add(int(day_no[t]))  # no later month expects it unless it is billed again
            if billed and not (hol[t] or prov[t]) and p.log:
                hist[t] = hist_all[t] = math.log(max(float(raw[t]) - rec, 0.0) + p.offset)
        if hol[t] and not prov[t]:
            # the usage's error (under a charge billed today), against the forecast before the shift
            used = float(raw[t]) - rec if rec > 0 and billed else float(raw[t])
            x_used = math.log(max(used, 0.0) + p.offset) if p.log else used
            if used > 0:
                hol_resid.append(x_used - exp_pre)
            if rec == 0:
                # a holiday at zero cost: the spend is switched off on holidays (until a holiday costs something
                # again), which no shift of the forecast describes; its error is not one of the shift's
                hol_off = hol_off or not used > 0
                # evidence of how holidays go, where the two ways differ (a weekend costs what a holiday
                # switched off does, on a dev subscription): the nearer one
                if not hol_cost:
                    hol_on.append(abs(x_used - exp_pre) < sens * scale_pre)
                elif abs(exp_pre - hol_cost[-1]) >= sens * scale_pre:
                    hol_on.append(abs(x_used - exp_pre) < abs(x_used - hol_cost[-1]))
                hol_cost.append(x_used)
        z = (xt - exp_t) / scale if z_hol is None else z_hol
        if p.log:
            expected[t] = math.exp(exp_t) - p.offset
            scales[t] = math.exp(exp_t) * (math.exp(scale) - 1.0)
        else:
            expected[t] = exp_t
            scales[t] = scale
        if rec > 0:
            # a recurring charge is billed at an exact amount: only the usage part is noisy
            # less the amount learnt, which carries the noise of the usage it was read against
            both = math.hypot(base_scale, rec_scale)
            z = (float(raw[t]) - base - rec) / both if both > 0 else z
            scales[t] = both
        excess = float(raw[t]) - expected[t]
        s = _score(z, sens)
        normal = s < 0.5 and not (hol[t] or prov[t])
        if normal:
            # anomalous, holiday and incomplete days do not teach the scale; a billing day whose charge did not
            # come teaches the usage's error (round 10: before, its error against usage plus the charge, which
            # widened the scale of that weekday for 16 cycles after every lone excess taken for a charge)
            resid.append(xt - (exp_usage if rec > 0 and not billed else exp_t))
            resid_phase.append(pt % per)
            xu = float(hist_all[t]) if not math.isnan(hist_all[t]) else xt  # the usage part on a recurring day
            e_now = min(max(xu - exp_model, -3 * scale), 3 * scale)
            if prev_e is not None and last_pos == pt - 1:
                pairs.append((prev_e, e_now))
            prev_e = e_now
        else:
            prev_e = None  # an anomaly's error is not carried into the next forecast
        last_pos = pt
        flags[t] = s >= 0.5 and excess >= p.min_impact
        if p.cusum_k > 0 and not (hol[t] or prov[t]):
            cs = max(0.0, cs + min(z, p.cusum_cap) - p.cusum_k)
            run_excess, run_days = (run_excess + excess, run_days + 1) if cs > 0 else (0.0, 0)
            run_recent = [*run_recent[-(per - 1) :], excess] if cs > 0 else []
            if flags[t]:
                cs = max(cs, p.cusum_h - p.cusum_lift)  # the one-step alarm opens the episode
            cs = min(cs, p.cusum_h * p.cusum_max)
            s = max(s, _score(cs, p.cusum_h))
            # impact: the mean daily excess since the run began, or over its latest cycle when larger (a
            # ramp's excess grows, so its mean since the start understates what it costs now)
            recent = sum(run_recent) / len(run_recent) if len(run_recent) >= per else 0.0
            if cs >= p.cusum_h and run_days and max(run_excess / run_days, recent) >= p.min_impact:
                flags[t] = True
            if in_episode and not flags[t]:
                # episode over: the same change must not fire again
                cs, run_excess, run_days, run_recent = 0.0, 0.0, 0, []
        if p.cusum_k > 0 and p.log and not (hol[t] or prov[t] or flags[t]) and math.isfinite(hist_all[t]):
            # Drift: a ramp's one-step errors stay small (the level and the AR(1) carry follow it), so the
            # last cycle's level is compared with the level of the cycles before the model's level window,
            # in units of the spread of past such lifts (the noise's own autocorrelation, trend and season
            # error included). The lifts of the last two cycles, which a drift under way has raised, are
            # left out of that spread, as the reference leaves out those cycles.
            lift, impact = _drift(d, season, float(hist_all[t]), p)
            zd = 0.0
            lag = per * p.level_cycles  # the lifts of the cycles the reference leaves out
            if len(lifts) >= min_hist + lag:
                past = np.asarray(lifts[-per * p.resid_cycles - lag : -lag])
                # RMS about their median (a few large lifts are what makes the test wide); consecutive lifts
                # share all but one day, about one independent lift per cycle, so the small-sample factor
                # 1 + 4/n (``_error_scale``) counts cycles, not rows
                centre = float(_fmed(past))
                spread = math.sqrt(float(np.mean((past - centre) ** 2))) * (1.0 + 4.0 * per / past.size)
                zd = (lift - centre) / max(spread, 1e-9)
            if not math.isnan(lift) and s < 0.5:
                lifts.append(lift)
                lift_pos.append(pt)
            s = max(s, _score(zd, sens))
            if zd >= sens and impact >= p.min_impact:
                flags[t] = True
                cs = max(cs, p.cusum_h - p.cusum_lift)  # the episode goes on as after a one-step alarm
        if hol[t] and in_episode and not (flags[t] or prov[t]):
            flags[t] = True  # a holiday says nothing about an episode under way: it does not end it
        # An incomplete row says nothing certain either (its cost is still rising), but it is not flagged: it is
        # held in the episode, and counted in its length, as it will be once complete if the change lasts. So a
        # lasting change becomes the baseline on the same row whether the rows before it are complete or not,
        # and a daily run does not open a new episode on the newest rows that the complete series never has.
        held = prov[t] and in_episode and not flags[t]
        if flags[t] or held:
            if not in_episode:
                ep_start, ep_len = pt, 0
            ep_len += 1
        in_episode = bool(flags[t]) or held
        scores[t] = s
    return CostScores(scores, flags, expected, scales, reasons, rebased, recurring)


class _Tail:
    """Values appended one at a time; ``last(k)`` is the newest k as an array (a view: the values of
    ``np.asarray(list[-k:])`` without building it every row)."""

    __slots__ = ("_buf", "_n")

    def __init__(self, capacity: int, *, width: int = 0, dtype: type = np.float64) -> None:
        self._buf: npt.NDArray[Any] = np.empty((capacity, width) if width else capacity, dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, value: float | tuple[float, float]) -> None:
        self._buf[self._n] = value
        self._n += 1

    def last(self, k: int) -> npt.NDArray[Any]:
        return self._buf[max(self._n - k, 0) : self._n]


def _drift(d: FloatArray, season: FloatArray, today: float, p: CostParams) -> tuple[float, float]:
    """Lift of the last cycle's de-seasonalised level (today included) over the reference level, and the
    daily cost of that lift (NaN, 0 when too few values).

    Both levels are clipped means (``clip`` robust sigmas, as the model's level), so one charge or
    spike in the last cycle does not lift it. Reference: the cycles before the model's level window
    (its last ``level_cycles``), which a change of the last weeks has not reached yet. A steady trend
    lifts every day alike; the caller takes the median of past lifts as their centre.
    """
    per = d.shape[1]
    recent = np.append(d[-1, 1:], today - float(season[0]))
    recent = recent[~np.isnan(recent)]
    ref = d[: -p.level_cycles].ravel()
    ref = ref[~np.isnan(ref)]
    if 2 * recent.size <= per or ref.size < per * p.min_cycles:
        return math.nan, 0.0
    base = _clipped_mean(ref, p.clip)
    lift = _clipped_mean(recent, p.clip) - base
    cost = float(np.mean(np.exp(base + season))) * (math.exp(lift) - 1.0)
    return lift, cost


_LONE_DAYS = 2  # the longest run of excess days read as charges billed (``_lone``)


def _lone(excess_by_day: dict[int, tuple[float, float, float]], day: int) -> bool:
    """An excess on ``day`` in a run of at most 2 days with one: a charge billed that day, not a lasting change.

    A lasting change makes a longer run (its episode stays open for up to ``max_episode`` days); two
    monthly charges can fall on consecutive days (a reservation on the 1st, a plan on its anniversary,
    the 2nd). Before round 3 the run had to be 1 day: held-out seeds 52000..52119 showed a plan on the 2nd
    beside the reservation on the 1st flagged every month (no development seed had one), so the bound 2
    was set after that held-out scoring and is judged on held-out seeds 61000.. instead.
    """
    if day not in excess_by_day:
        return False
    first = last = day
    while first - 1 in excess_by_day:
        first -= 1
    while last + 1 in excess_by_day:
        last += 1
    return last - first + 1 <= _LONE_DAYS


def _rebase_history(
    h: FloatArray, positions: npt.NDArray[np.int64], *, lo: int, cut: int, t: int, per: int, offset: float | None
) -> FloatArray | None:
    """Rewrite the history rows ``lo:cut`` (before a lasting change) into the regime of rows ``cut:t``.

    Two hypotheses with a known basis, the one that fits the rows since the change better wins:
    the change multiplies every phase (usage grew: log values shift by a constant), or it adds the
    same amount to every phase (a new resource that costs the same every day). Later rows then
    learn level, season and trend from one consistent history.
    """
    pre, post = h[lo:cut], h[cut:t]
    if not (np.isfinite(pre).any() and np.isfinite(post).any()):
        return None
    phase_pre, phase_post = positions[lo:cut] % per, positions[cut:t] % per
    ok = np.isfinite(post)
    if offset is None:  # linear model: the values are costs; only the additive shift applies
        means = {
            k: float(np.nanmean(pre[phase_pre == k]))
            for k in set(phase_post[ok].tolist())
            if np.isfinite(pre[phase_pre == k]).any()
        }
        diffs = [post[i] - means[int(phase_post[i])] for i in np.nonzero(ok)[0] if int(phase_post[i]) in means]
        if diffs:
            h[lo:cut] = pre + float(np.median(diffs))
        return None
    cost_pre = np.exp(pre) - offset
    cost_post = np.exp(post) - offset
    # each phase's mean cost before the change: the reference of the fit below, and the level of the rescaling
    finite = np.isfinite(cost_pre)
    pre_mean = {k: float(np.mean(v)) for k in range(per) if (v := cost_pre[(phase_pre == k) & finite]).size}
    ref = np.full(len(post), np.nan)
    for k in set(phase_post[ok].tolist()):
        if k in pre_mean:
            ref[(phase_post == k) & ok] = pre_mean[k]
    use = np.isfinite(ref) & ok
    if not use.any():
        return None
    ratio = float(np.median((cost_post[use] + offset) / (ref[use] + offset)))
    delta = float(np.median(cost_post[use] - ref[use]))
    err_mult = float(np.sum((post[use] - np.log((ref[use] + offset) * ratio)) ** 2))
    err_add = float(np.sum((post[use] - np.log(np.maximum(ref[use] + delta, 0.0) + offset)) ** 2))
    if err_add < err_mult:
        h[lo:cut] = np.log(np.maximum(cost_pre + delta, 0.0) + offset)
        # the log error of a cost x is about its currency error over x + offset: each phase's errors shrink by
        # (level + offset) / (level + delta + offset)
        shrink = np.ones(per)
        for k, mean in pre_mean.items():
            lvl = max(mean, 0.0) + offset
            shrink[k] = lvl / max(lvl + delta, offset)
        return shrink
    h[lo:cut] = pre + math.log(ratio)
    return np.ones(per)  # errors in log units are unchanged by a change that multiplies every phase


def _clipped_mean(a: FloatArray, c: float) -> float:
    """Mean of the values within ``c`` robust sigmas (1.4826 MAD) of the median."""
    m = float(_fmed(a))
    dev = np.abs(a - m)
    sd = _MAD * float(_fmed(dev))
    return _mean(a[dev <= c * sd]) if sd > 0 else m


def _clipped_col_mean(a: FloatArray, c: float, *, has_nan: bool) -> FloatArray:
    """Per column: mean of the values within ``c`` pooled robust sigmas of the column median."""
    m = _median(a, axis=0, has_nan=has_nan)
    dev = np.abs(a - m)
    sd = _MAD * float(_median(dev, has_nan=has_nan))
    if not sd > 0:
        return m
    keep = dev <= c * sd  # NaN compares False
    cnt = keep.sum(axis=0)
    tot = np.where(keep, a, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), m)


def _mean(a: FloatArray) -> float:
    """``float(np.mean(a))`` of a non-empty 1-D array (the same sum, divided by the same count), without
    np.mean's dispatch, which costs more than the sum on the model's small arrays."""
    return float(np.add.reduce(a)) / a.size


def _error_scale(errors: FloatArray) -> float:
    """Scale of past one-step errors, robust to holidays and past anomalies.

    RMS about the median of the errors within 3 MAD-sigmas (divided by 0.9733, the
    share of a Gaussian's variance inside 3 sigmas); at least the winsorised RMS of
    the upper half over 1.15, so a right tail heavier than a Gaussian's widens it;
    times 1 + 4/n, which makes z > 3 about as rare with a scale from n errors as
    with a known one (t-distribution with about 0.9 n degrees of freedom).
    """
    dv = errors - float(_fmed(errors))
    mad_sd = _MAD * float(_fmed(np.abs(dv)))
    rms = _inner_rms(dv, mad_sd)
    upper = np.clip(dv[dv > 0], 0.0, 4 * mad_sd)
    tail = math.sqrt(_mean(upper**2)) if upper.size else 0.0
    return max(rms, tail / 1.15) * (1.0 + 4.0 / len(errors))


def _inner_rms(dv: FloatArray, mad_sd: float | None = None) -> float:
    """RMS of the deviations ``dv`` (about their median) within 3 MAD-sigmas, divided by 0.9733 (the share of a
    Gaussian's variance inside 3 sigmas); the MAD-sigma when none is. ``mad_sd``: that MAD-sigma, when the
    caller has it already."""
    if mad_sd is None:
        mad_sd = _MAD * float(_fmed(np.abs(dv)))
    inner = dv[np.abs(dv) <= 3 * mad_sd]
    return math.sqrt(_mean(inner**2) / 0.9733) if inner.size else mad_sd


def _phase_rms(errors: FloatArray) -> float:
    """RMS about the median of one phase's errors, each winsorised at 3 MAD-sigmas (few errors: no
    small-sample factor, the pooled scale already carries one)."""
    dv = errors - float(_fmed(errors))
    mad_sd = _MAD * float(_fmed(np.abs(dv)))
    return math.sqrt(_mean(np.clip(dv, -3 * mad_sd, 3 * mad_sd) ** 2))


def _theil_sen(bmed: FloatArray, per: int) -> float:
    """Slope per row from per-cycle medians (index 0 = most recent cycle)."""
    ok = ~np.isnan(bmed)
    if np.count_nonzero(ok) < 2:
        return 0.0
    ys = bmed[ok]
    xs = -np.nonzero(ok)[0].astype(float) * per
    i, j = _pairs(len(ys))
    return float(_fmed((ys[i] - ys[j]) / (xs[i] - xs[j])))


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """np.triu_indices(n, k=1), built once per n (read-only)."""
    i, j = np.triu_indices(n, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j
