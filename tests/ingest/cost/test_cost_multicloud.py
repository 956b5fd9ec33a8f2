"""FOCUS exports from AWS (Data Exports, FOCUS 1.0 and 1.2) and Google Cloud (BigQuery FOCUS export as
CSV or Parquet) ingest beside Azure: exact to the cent against sums computed here with csv/Decimal (or
pyarrow's own Parquet reader), providers as columns, each cloud's scopes mapped, no resource group
invented for clouds that have none."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from core.runtime import LocalBlobStore as LocalBlobs
from ingest.cost import focus_headers, ingest_paths, load_costs
from ingest.cost.columns import detect
from ingest.cost.reader import SourceFile
from ingest.cost.store import CostStore
from ingest.cost.summary import summarize
from tests.ingest.cost.fixtures import multicloud as mc

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MULTI = FIXTURES / "multicloud"

# file -> (FOCUS version detected, ProviderName, the published column list it follows)
FILES: dict[str, tuple[str, str, list[str]]] = {
    "aws_focus_1.0.csv.gz": ("1.0", "AWS", mc.AWS_FOCUS_1_0),
    "aws_focus_1.2.csv": ("1.2", "AWS", mc.AWS_FOCUS_1_2),
    "aws_focus_1.2.parquet": ("1.2", "AWS", mc.AWS_FOCUS_1_2),
    "gcp_focus.csv": ("1.0", "Google Cloud", mc.GCP_FOCUS),
    "gcp_focus.parquet": ("1.0", "Google Cloud", mc.GCP_FOCUS),
}


def _records(path: Path) -> list[dict[str, Any]]:
    """The file's records, read without any Vigil code."""
    if path.suffix == ".parquet":
        return list(pq.read_table(path).to_pylist())
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def _dec(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))  # str(float): the shortest exact repr


def _independent_totals(path: Path) -> tuple[int, dict[str, Decimal], dict[str, Decimal]]:
    billed: dict[str, Decimal] = {}
    effective: dict[str, Decimal] = {}
    records = _records(path)
    for r in records:
        cur = r["BillingCurrency"]
        billed[cur] = billed.get(cur, Decimal(0)) + _dec(r["BilledCost"])
        effective[cur] = effective.get(cur, Decimal(0)) + _dec(r["EffectiveCost"])
    return len(records), billed, effective


def test_fixtures_follow_the_published_column_lists() -> None:
    assert (len(focus_headers.FOCUS_1_0), len(focus_headers.FOCUS_1_2)) == (43, 57)  # FOCUS 1.0 and 1.2 column counts
    assert len(mc.AWS_FOCUS_1_0) == 48  # 43 + 5 AWS columns (AWS: "48 total")
    assert len(mc.AWS_FOCUS_1_2) == 60  # 57 + 3 AWS columns (AWS: "60 total")
    for name, (_v, _p, columns) in FILES.items():
        header = SourceFile(name=name, path=MULTI / name).header()
        assert header == columns, name


@pytest.mark.parametrize("name", sorted(FILES))
def test_ingests_to_the_cent(name: str, tmp_path: Path) -> None:
    version, provider, _cols = FILES[name]
    path = MULTI / name
    det = detect(SourceFile(name=name, path=path).header(), hint=name)
    assert (det.dataset, det.version) == ("focus", version)

    rows, billed, effective = _independent_totals(path)
    summary = ingest_paths([path], tmp_path / "store")
    assert summary.errors == []
    assert (summary.rows, summary.rows_rejected) == (rows, 0)
    assert summary.billed_cost == billed
    assert summary.effective_cost == effective
    assert summary.providers == [provider]
    # and read back from the store, exactly
    _r, totals = summarize(tmp_path / "store", "provider")
    assert {c: Decimal(t["billed_cost"]) for c, t in totals.items()} == billed
    assert {c: Decimal(t["effective_cost"]) for c, t in totals.items()} == effective


@pytest.mark.parametrize("name", sorted(FILES))
def test_provider_labels_and_scopes(name: str, tmp_path: Path) -> None:
    _v, provider, _cols = FILES[name]
    ingest_paths([MULTI / name], tmp_path / "store")
    df = load_costs(tmp_path / "store")
    records = _records(MULTI / name)
    assert set(df["ProviderName"]) == {provider}
    assert list(df["ServiceProviderName"]) == list(df["ProviderName"])  # FOCUS < 1.3: the same
    assert sorted(df["InvoiceIssuerName"]) == sorted(r["InvoiceIssuerName"] for r in records)
    # SubAccountId is the AWS account or the Google Cloud project, as exported (lower case)
    assert sorted(df["SubAccountId"]) == sorted(r["SubAccountId"].lower() for r in records)
    # no cloud but Azure has resource groups: null on purpose, never derived from an ARN or resource name
    assert df["x_ResourceGroupName"].isna().all()
    # partitions are keyed by the billing account (AWS payer account, Google Cloud billing account)
    parts = {p[0] for p, _c in CostStore(LocalBlobs(tmp_path / "store")).partitions()}
    billing = mc.AWS_PAYER if provider == "AWS" else mc.GCP_BILLING.lower()
    assert parts == {billing}
    # resource names come from the ARN / full resource name when the export leaves them empty
    names = set(df["ResourceName"].dropna())
    if provider == "AWS":
        assert "i-0a1b2c3d4e5f60718" in names
    else:
        assert "web-1" in names


def test_three_clouds_side_by_side(tmp_path: Path) -> None:
    """Azure (FOCUS 1.2 Parquet fixture), AWS and Google Cloud in one store: per provider and in total."""
    src = tmp_path / "in"
    src.mkdir()
    for name in ("aws_focus_1.2.parquet", "gcp_focus.csv"):
        shutil.copy(MULTI / name, src / name)
    shutil.copy(FIXTURES / "focus_1.2.parquet", src / "focus_1.2.parquet")
    summary = ingest_paths([src], tmp_path / "store")
    assert summary.errors == []
    assert summary.providers == ["AWS", "Google Cloud", "Microsoft"]

    expected: dict[str, Decimal] = {}
    for name in ("aws_focus_1.2.parquet", "gcp_focus.csv", "focus_1.2.parquet"):
        path = src / name
        for r in _records(path):
            key = r["ProviderName"]
            expected[key] = expected.get(key, Decimal(0)) + _dec(r["EffectiveCost"])
    rows, _totals = summarize(tmp_path / "store", "provider")
    got = {r["key"]: Decimal(r["effective_cost"]) for r in rows}
    assert got == expected
    df = load_costs(tmp_path / "store")
    azure = df[df["ProviderName"] == "Microsoft"]
    assert azure["x_ResourceGroupName"].notna().any()  # Azure keeps its resource groups
    assert df[df["ProviderName"] != "Microsoft"]["x_ResourceGroupName"].isna().all()


def test_azure_resource_group_comes_from_the_arm_id_when_the_export_has_none(tmp_path: Path) -> None:
    """A FOCUS file without x_ResourceGroupName (a third-party FOCUS producer over Azure data)."""
    sub = "1caaa5a3-2b66-438e-8ab4-bce37d518c5d"
    rid = f"/subscriptions/{sub}/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/web01"
    body = (
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,SubAccountId,ResourceId,"
        "ProviderName,InvoiceIssuerName\n"
        f"2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,1.50,1.50,USD,{sub},{rid},Microsoft,Microsoft\n"
        f"2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,0.25,0.25,USD,{sub},,Microsoft,Microsoft\n"
    )
    f = tmp_path / "focus.csv"
    f.write_text(body)
    ingest_paths([f], tmp_path / "store")
    df = load_costs(tmp_path / "store").sort_values("BilledCost")
    assert list(df["x_ResourceGroupName"].fillna("<null>")) == ["<null>", "rg-web"]


def test_ea_rows_name_microsoft_and_old_store_files_read_as_null(tmp_path: Path) -> None:
    ingest_paths([FIXTURES / "ea_legacy_actual.csv"], tmp_path / "store")
    df = load_costs(tmp_path / "store")
    assert set(df["ProviderName"]) == {"Microsoft"}
    assert set(df["InvoiceIssuerName"]) == {"Microsoft"}
    # a file written before the provider columns existed: they read back as null, nothing else changes
    store = CostStore(LocalBlobs(tmp_path / "store"))
    for _part, cur in store.partitions():
        for rel in cur["files"]:
            local = store.blobs.local_path(rel)  # type: ignore[attr-defined]
            t = pq.read_table(local)
            keep = [n for n in t.schema.names if n not in ("ProviderName", "ServiceProviderName", "InvoiceIssuerName")]
            pq.write_table(t.select(keep), local)
    old = load_costs(tmp_path / "store")
    assert old["ProviderName"].isna().all()
    assert old["BilledCost"].sum() == pytest.approx(df["BilledCost"].sum())


def test_focus_1_3_service_provider_without_provider_name(tmp_path: Path) -> None:
    """FOCUS 1.3 deprecates ProviderName for ServiceProviderName (and HostProviderName)."""
    f = tmp_path / "focus13.csv"
    f.write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,SubAccountId,"
        "ServiceProviderName,InvoiceIssuerName\n"
        "2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,2.50,2.50,USD,111122223333,AWS,Amazon Web Services Inc.\n"
    )
    ingest_paths([f], tmp_path / "store")
    df = load_costs(tmp_path / "store")
    assert list(df["ServiceProviderName"]) == ["AWS"]
    assert list(df["ProviderName"]) == ["AWS"]
