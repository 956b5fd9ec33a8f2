"""Every dataset and version (EA legacy/current, MCA, FOCUS 1.0-preview..1.2; CSV, BOM, gzip, Parquet;
a three-part manifest export) ingests with exact totals and the right detection."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.costframe import column_names, pandas_dtypes
from ingest.cost import ingest_paths, load_costs
from ingest.cost.columns import detect
from ingest.cost.reader import SourceFile
from ingest.cost.summary import summarize


def dec(m: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in m.items()}


SINGLE = [
    "ea_legacy_actual.csv",
    "ea_current_amortized.csv",
    "mca_actual.csv.gz",
    "mca_amortized.parquet",
    "focus_1.0-preview.csv",
    "focus_1.0.csv.gz",
    "focus_1.2-preview.csv",
    "focus_1.2.parquet",
]


@pytest.mark.parametrize("name", SINGLE)
def test_single_file_totals_and_detection(
    name: str, fixtures_dir: Path, expected: dict[str, Any], tmp_path: Path
) -> None:
    exp = expected[name]
    src = SourceFile(name=name, path=fixtures_dir / name)
    det = detect(src.header(), hint=name)
    assert (det.dataset, det.version) == (exp["dataset"], exp["version"])

    summary = ingest_paths([fixtures_dir / name], tmp_path / "store")
    assert summary.errors == []
    assert summary.rows == exp["rows"]
    assert summary.rows_rejected == 0
    assert dec(summary.billed_cost) == dec(exp["billed_cost"])
    assert dec(summary.effective_cost) == dec(exp["effective_cost"])
    assert summary.metrics == list(det.metrics)

    # read back: exact via the store, and as the cost frame contract
    _rows, totals = summarize(tmp_path / "store", "day")
    for cur, t in totals.items():
        if exp["billed_cost"]:
            assert Decimal(t["billed_cost"]) == Decimal(exp["billed_cost"][cur])
        else:
            assert t["billed_cost"] is None  # never invented
        if exp["effective_cost"]:
            assert Decimal(t["effective_cost"]) == Decimal(exp["effective_cost"][cur])
        else:
            assert t["effective_cost"] is None
    df = load_costs(tmp_path / "store")
    assert list(df.columns) == column_names()
    assert {c: str(t) for c, t in df.dtypes.items()} == pandas_dtypes()
    assert len(df) == exp["rows"]
    for cur, total in exp["billed_cost"].items():
        assert df.loc[df.BillingCurrency == cur, "BilledCost"].sum() == pytest.approx(float(total), abs=1e-9)


def test_ea_normalization_details(fixtures_dir: Path, tmp_path: Path) -> None:
    ingest_paths([fixtures_dir / "ea_legacy_actual.csv"], tmp_path)
    df = load_costs(tmp_path).sort_values(["ChargePeriodStart", "BilledCost"]).reset_index(drop=True)
    vm = df[df.ResourceName == "Web01"].iloc[0]
    assert vm.ResourceId == vm.ResourceId.lower()
    assert vm.ResourceId.startswith("/subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d/resourcegroups/rg-web/")
    assert vm.ResourceType == "microsoft.compute/virtualmachines"
    assert vm.SubAccountId == "1caaa5a3-2b66-438e-8ab4-bce37d518c5d"
    assert vm.x_ResourceGroupName == "rg-web"
    assert vm.ServiceCategory == "Compute"
    assert vm.RegionId == "eastus"
    assert json.loads(vm.Tags) == {"env": "prod", "app": "web"}  # EA tags come without braces
    assert str(vm.ChargePeriodStart) == "2024-05-01 00:00:00+00:00"
    assert str(vm.ChargePeriodEnd) == "2024-05-02 00:00:00+00:00"
    assert set(df.ChargeCategory) == {"Usage", "Purchase"}  # Refund -> Purchase (toolkit mapping)
    assert set(df.PricingCategory) == {"Standard", "Committed"}
    assert df.EffectiveCost.isna().all()  # actual cost only: amortized is not invented
    db = df[df.ResourceType == "microsoft.sql/servers/databases"]
    assert len(db) == 1
    assert df[df.ChargeCategory == "Purchase"].BilledCost.sum() == pytest.approx(3.25 - 0.12)


def test_focus_subaccount_and_scope(fixtures_dir: Path, tmp_path: Path) -> None:
    ingest_paths([fixtures_dir / "focus_1.2-preview.csv"], tmp_path)
    df = load_costs(tmp_path)
    assert set(df.SubAccountId) == {"1caaa5a3-2b66-438e-8ab4-bce37d518c5d", "ed570627-0265-4620-bb42-bae06bcfa914"}
    assert (tmp_path / "scope=8611537" / "month=2024-05" / "dataset=focus" / "_current.json").is_file()
    assert set(load_costs(tmp_path, scopes=["8611537"]).index) == set(df.index)
    assert load_costs(tmp_path, scopes=["other"]).empty
    few = load_costs(tmp_path, start="2024-05-10", end="2024-05-20")
    assert 0 < len(few) < len(df)
    assert few.ChargePeriodStart.min().day >= 10


def test_three_part_manifest_export(fixtures_dir: Path, expected: dict[str, Any], tmp_path: Path) -> None:
    exp = expected["export/manifest"]
    summary = ingest_paths([fixtures_dir / exp["path"]], tmp_path)
    assert summary.files == 3
    assert summary.runs == 1
    assert summary.rows == exp["rows"]
    assert dec(summary.billed_cost) == dec(exp["billed_cost"])
    assert dec(summary.effective_cost) == dec(exp["effective_cost"])
    assert set(summary.datasets.values()) == {"focus 1.0r2"}  # only the manifest tells 1.0r2 from 1.0
    df = load_costs(tmp_path)
    assert set(df.x_SourceRunId) == {"6b2f6d3c-1111-4a5e-9c1e-0c2b0e1d2a01"}
    assert sorted(df.ChargePeriodStart.dt.strftime("%Y-%m-%d").unique()) == exp["days"]


def test_folder_input_finds_manifest_and_loose_files(fixtures_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(fixtures_dir / "export", src / "export")
    shutil.copy(fixtures_dir / "focus_1.0.csv.gz", src)
    summary = ingest_paths([src], tmp_path / "store")
    assert summary.files == 4
    assert summary.runs == 2


def test_manifest_with_missing_fields(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run-x"
    folder.mkdir()
    shutil.copy(fixtures_dir / "focus_1.0.csv.gz", folder / "part_0_0001.csv.gz")
    (folder / "manifest.json").write_text('{"manifestVersion": "2024-04-01"}')
    summary = ingest_paths([folder / "manifest.json"], tmp_path / "store")
    assert summary.files == 1
    assert summary.rows == 9
    assert set(load_costs(tmp_path / "store").x_SourceRunId) == {"run-x"}
