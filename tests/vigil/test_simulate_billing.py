"""The demo tenant's costs have the billing phenomena of issue 16, read back through the real ingest."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ingest.cost import ingest_paths, load_costs
from vigil.simulate import DEFAULT_NOW, SimResult, simulate
from vigil.simulate.billing import holidays_between
from vigil.tenant import TenantFolder

LAST_DAY = (DEFAULT_NOW - timedelta(days=1)).date()


@pytest.fixture(scope="module")
def costs(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    base = tmp_path_factory.mktemp("billing")
    sim: SimResult = simulate(base / "tenant")
    runs = TenantFolder(sim.root).runs()
    ingest_paths([r.manifest_path for r in runs], base / "data")
    df = load_costs(base / "data")
    return df.assign(day=df["ChargePeriodStart"].dt.date)


def test_recurring_purchases_on_their_billing_days(costs: pd.DataFrame) -> None:
    rec = costs[(costs.ChargeCategory == "Purchase") & (costs.ChargeFrequency == "Recurring")]
    by_service = rec.groupby("ServiceName")["day"].apply(lambda d: sorted({x.day for x in d})).to_dict()
    assert by_service == {"Reservations": [21], "Marketplace": [1]}  # an anniversary day and the 1st
    for _service, group in rec.groupby("ServiceName"):
        assert group["BilledCost"].nunique() == 1  # billed every month at the same amount
        assert len(group) == 3


def test_one_off_purchase(costs: pd.DataFrame) -> None:
    once = costs[(costs.ChargeCategory == "Purchase") & (costs.ChargeFrequency == "One-Time")]
    assert len(once) == 1


def test_dev_vms_off_on_holidays_and_for_a_week(costs: pd.DataFrame) -> None:
    vms = costs[costs.ResourceId.str.contains("/virtualmachines/vm-dev-", na=False)]
    per_day = vms.groupby("day")["BilledCost"].sum()
    holidays = holidays_between(LAST_DAY - timedelta(days=89), LAST_DAY)
    weekdays_off = [d for d in holidays if d.weekday() < 5]
    assert date(2026, 9, 7) in weekdays_off  # Labor Day
    assert all(per_day.get(d, 0.0) == 0.0 for d in weekdays_off)
    week = [LAST_DAY - timedelta(days=k) for k in range(46, 54)]
    assert all(per_day.get(d, 0.0) == 0.0 for d in week)
    assert per_day.get(LAST_DAY - timedelta(days=45), 0.0) > 0 or (LAST_DAY - timedelta(days=45)).weekday() >= 5


def test_storage_noise_is_autocorrelated_with_cv_3_to_8_percent(costs: pd.DataFrame) -> None:
    st = costs[costs.ResourceId.str.contains("/storageaccounts/", na=False)]
    cvs = []
    for _rid, group in st.groupby("ResourceId"):
        daily = group.groupby("day")["BilledCost"].sum().sort_index().iloc[:-3]  # complete days
        ratio = daily / daily.rolling(15, center=True, min_periods=15).median()
        cvs.append(float(ratio.dropna().std()))
    assert len(cvs) >= 3
    assert all(0.02 <= cv <= 0.12 for cv in cvs)


def test_newest_three_days_of_late_meters_are_incomplete(costs: pd.DataFrame) -> None:
    st = costs[costs.ResourceId.str.contains("/storageaccounts/", na=False)]
    daily = st.groupby("day")["BilledCost"].sum().sort_index()
    before = float(daily.iloc[-10:-3].mean())
    third, second, newest = (daily.iloc[-3:] / before).tolist()  # 95 %, 80 %, 60 % of a noisy day
    assert 0.85 <= third <= 1.05
    assert 0.7 <= second <= 0.9
    assert 0.5 <= newest <= 0.7
    gpu = costs[costs.ResourceId.str.endswith("/vm-batch-gpu-01", na=False)]
    assert gpu.groupby("day")["BilledCost"].sum().iloc[-1] > 0  # compute is not late: the planted spike stays
