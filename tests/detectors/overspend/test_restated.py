"""Daily runs over an export whose newest 3 days are incomplete and restated by later runs.

Each run sees the data as the export had it that day: the newest day 60 % complete,
the day before 80 %, the one before that 95 %, older days final. Re-judging the
restated days must not flap (resolve and then fire again), an incomplete day must
not be flagged, and a lasting change is one episode that resolves with its new baseline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from core.model import Finding, Status
from detectors.config import OverspendConfig
from detectors.overspend import detect
from tests.detectors.overspend.synth import frame

START = date(2026, 6, 1)
STEP = date(2026, 10, 6)  # a Tuesday
COMPLETE = {0: 0.6, 1: 0.8, 2: 0.95}  # share of a day's cost in the export, by age in days
CONFIG = OverspendConfig(scopes=["billing_account"], top_resources=0)


def _as_exported(full: pd.DataFrame, run: date) -> pd.DataFrame:
    """The export as of ``run``: days before it, the newest three still incomplete."""
    day = full["ChargePeriodStart"].dt.date
    out = full[day < run].copy()
    age = (run - timedelta(days=1) - out["ChargePeriodStart"].dt.date).map(lambda d: d.days)
    share = age.map(lambda a: COMPLETE.get(a, 1.0))
    out["BilledCost"] *= share
    out["EffectiveCost"] *= share
    return out


def _runs(full: pd.DataFrame, first: date, last: date) -> list[tuple[date, list[Finding]]]:
    out = []
    run = first
    while run <= last:
        now = datetime.combine(run, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
        days = [run - timedelta(days=k) for k in range(4, 0, -1)]  # the days this export run restated
        out.append((run, detect(_as_exported(full, run), config=CONFIG, now=now, days=days)))
        run += timedelta(days=1)
    return out


def _events(runs: list[tuple[date, list[Finding]]]) -> list[str]:
    """FIRING/RESOLVED in the order an alert store sees them, repeats collapsed."""
    seq: list[str] = []
    for _, findings in runs:
        for f in sorted(findings, key=lambda f: f.observed_at):
            if f.rule == "overspend_cost_anomaly" and (not seq or seq[-1] != f.status.value):
                seq.append(f.status.value)
    return seq


def test_restated_incomplete_days_are_not_flagged_as_drops() -> None:
    full = frame(START, 150, purchases=False, noise=0.02)
    runs = _runs(full, date(2026, 9, 1), date(2026, 10, 20))
    assert _events(runs) == []


def test_a_restated_step_neither_flaps_nor_lasts_and_resolves_with_its_new_baseline() -> None:
    step = [("00000000-0000-0000-0000-00000000000a", "web", "vm-new", "Microsoft.Compute/virtualMachines",
             "Virtual Machines", STEP, 200, 300.0)]  # fmt: skip
    full = frame(START, 150, purchases=False, noise=0.02, extra=step)
    runs = _runs(full, STEP - timedelta(days=5), STEP + timedelta(days=20))
    assert _events(runs) == ["firing", "resolved"]
    firing = [f for _, fs in runs for f in fs if f.status is Status.FIRING]
    assert {f.evidence["first_day"] for f in firing} == {STEP.isoformat()}
    assert max(date.fromisoformat(f.evidence["day"]) for f in firing) < STEP + timedelta(days=7)
    resolved = next(f for _, fs in runs for f in fs if f.status is Status.RESOLVED)
    # the new baseline is the model's expectation on the day it adopted the new level: that day's cost
    day = date.fromisoformat(resolved.evidence["new_baseline_day"])
    cost = float(full.loc[full["ChargePeriodStart"].dt.date == day, "EffectiveCost"].sum())
    assert abs(resolved.evidence["new_baseline"] / cost - 1) < 0.1
    assert STEP + timedelta(days=6) < day <= STEP + timedelta(days=8)
    assert "new baseline" in resolved.annotations["summary"]
