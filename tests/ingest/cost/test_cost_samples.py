"""The real public samples ingest with totals equal to an independent sum of their cost columns."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.cost import ingest_paths, load_costs
from ingest.cost.summary import summarize


def _independent_sum(path: Path, column: str) -> tuple[int, dict[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for rec in csv.DictReader(fh):
            rows += 1
            cur = rec.get("BillingCurrency") or rec.get("BillingCurrencyCode") or ""
            raw = rec[column]
            if raw not in ("", "NULL"):
                totals[cur] = totals.get(cur, Decimal(0)) + Decimal(raw)
    return rows, totals


def test_ea_actual_cost_sample(samples_dir: Path, tmp_path: Path) -> None:
    path = samples_dir / "cost" / "EA_ActualCost_Small.csv"
    if not path.is_file():
        pytest.skip("EA sample absent")
    rows, totals = _independent_sum(path, "Cost")
    summary = ingest_paths([path], tmp_path)
    assert summary.rows == rows == 11
    assert summary.rows_rejected == 0
    assert summary.billed_cost == totals
    assert summary.effective_cost == {}
    assert summary.datasets[str(path)] == "actual ea-legacy"
    _r, stored = summarize(tmp_path, "service")
    assert Decimal(stored["USD"]["billed_cost"]) == totals["USD"]
    df = load_costs(tmp_path)
    assert df.BilledCost.sum() == pytest.approx(float(totals["USD"]), abs=1e-9)
    purchase = df[df.ChargeCategory == "Purchase"]
    assert len(purchase) == 1
    assert purchase.PricingCategory.iloc[0] == "Committed"
    tagged = df[df.x_ResourceGroupName == "databricks-rg-peskydata-s6taefbli5c5e"]
    tags = json.loads(tagged.Tags.iloc[0])
    assert tags["CostCenter"] == "1234"
    assert tags["databricks-environment"] == "true"


def test_focus_sample(samples_dir: Path, tmp_path: Path) -> None:
    path = samples_dir / "cost" / "focus_sandbox_1.0_sample_1000rows.csv"
    if not path.is_file():
        pytest.skip("FOCUS sample absent")
    rows, billed = _independent_sum(path, "BilledCost")
    _rows, effective = _independent_sum(path, "EffectiveCost")
    summary = ingest_paths([path], tmp_path)
    assert summary.rows == rows == 1000
    assert summary.billed_cost == billed
    assert summary.effective_cost == effective
    _r, stored = summarize(tmp_path, "subscription")
    assert Decimal(stored["USD"]["billed_cost"]) == billed["USD"]
    assert Decimal(stored["USD"]["effective_cost"]) == effective["USD"]
    df = load_costs(tmp_path)
    ms = df[df.ResourceId.str.startswith("/subscriptions/", na=False)]
    assert len(ms) == 51
    assert (ms.ResourceId == ms.ResourceId.str.lower()).all()
    assert ms.SubAccountId.str.fullmatch(r"[0-9a-f-]{36}").all()


def test_documented_manifest_sample(samples_dir: Path, tmp_path: Path) -> None:
    from ingest.cost import plan_parts

    path = samples_dir / "cost" / "manifest_docs_example_manifestVersion_2024-04-01.json"
    if not path.is_file():
        pytest.skip("manifest sample absent")
    msgs = plan_parts(path.read_bytes(), "folder/sample/x/manifest.json")
    assert len(msgs) == 1
    assert msgs[0]["part"] == "folder/sample/00000000-0000-0000-0000-000000000000/part0.csv"  # stray spaces gone
    assert msgs[0]["run_id"] == "bbac73f1-9a05-4de6-84ab-c72b568a03b4"
    assert msgs[0]["scope"] == "1234567"
    assert msgs[0]["expected_rows"] == 36


def test_charge_frequency_from_real_samples(samples_dir: Path, tmp_path: Path) -> None:
    """EA ``Frequency`` and FOCUS ``ChargeFrequency`` reach the cost frame, so the overspend detectors keep a
    recurring purchase out of the usage series and read it as a recurring charge (issue 16)."""
    from datetime import UTC, datetime

    from detectors.overspend.frame import prepare

    ea = samples_dir / "cost" / "EA_ActualCost_Small.csv"
    focus = samples_dir / "cost" / "focus_sandbox_1.0_sample_1000rows.csv"
    if not (ea.is_file() and focus.is_file()):
        pytest.skip("cost samples absent")
    ingest_paths([ea], tmp_path / "ea")
    df = load_costs(tmp_path / "ea")
    assert df.ChargeFrequency.value_counts().to_dict() == {"Usage-Based": 10, "Recurring": 1}
    recurring = df[df.ChargeFrequency == "Recurring"]
    assert recurring.ChargeCategory.tolist() == ["Purchase"]
    (prep,) = prepare(df, cost_column="BilledCost", now=datetime(2100, 1, 1, tzinfo=UTC))
    assert prep.one_off["frequency"].tolist() == ["recurring"]
    assert len(prep.usage) == 10
    ingest_paths([focus], tmp_path / "focus")
    fdf = load_costs(tmp_path / "focus")
    with focus.open(encoding="utf-8-sig", newline="") as fh:
        written = [rec["ChargeFrequency"] for rec in csv.DictReader(fh)]
    assert sorted(set(written)) == ["One-Time", "Usage-Based", "Usage-based"]  # the sample spells it two ways
    assert fdf.ChargeFrequency.value_counts().to_dict() == {"Usage-Based": 999, "One-Time": 1}
