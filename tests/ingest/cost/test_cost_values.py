"""Value conversions and detection: dates, tags, resource ids, toolkit mappings, header variants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.cost import values
from ingest.cost.columns import EA_CURRENT_HEADER, EA_LEGACY_HEADER, MCA_HEADER, UnknownHeaderError, detect
from ingest.cost.manifest import clean_blob_name, parse_manifest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09/04/2023", datetime(2023, 9, 4, tzinfo=UTC)),
        ("9/4/2023", datetime(2023, 9, 4, tzinfo=UTC)),
        ("2024-05-03", datetime(2024, 5, 3, tzinfo=UTC)),
        ("2024-05-03T00:00", datetime(2024, 5, 3, tzinfo=UTC)),
        ("2024-05-03T10:20:30Z", datetime(2024, 5, 3, 10, 20, 30, tzinfo=UTC)),
        ("2024-09-18 22:00:00", datetime(2024, 9, 18, 22, tzinfo=UTC)),
        ("2024-05-03T02:00:00+02:00", datetime(2024, 5, 3, tzinfo=UTC)),
        ("13/45/2024", None),
        ("2024-13-45", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert values.parse_date(text) == expected


def test_resource_type_and_name() -> None:
    rid = "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/servers/sql1/databases/db1"
    assert values.resource_type(rid) == "microsoft.sql/servers/databases"
    assert values.resource_name(rid) == "db1"
    assert values.resource_type("/subscriptions/s/resourcegroups/rg") == "microsoft.resources/resourcegroups"
    assert values.resource_type("/providers/Microsoft.Capacity/reservationOrders/x/reservations/") == (
        "microsoft.capacity/reservationorders/reservations"
    )
    assert values.resource_type(None) is None


def test_toolkit_mappings() -> None:
    assert [values.charge_category(c) for c in ("Usage", "Purchase", "UnusedSavingsPlan", "Refund", "Rounding")] == [
        "Usage",
        "Purchase",
        "Usage",
        "Purchase",
        "Adjustment",
    ]
    assert [values.pricing_category(p) for p in ("OnDemand", "Spot", "Reservation", "SavingsPlan", "X", "")] == [
        "Standard",
        "Dynamic",
        "Committed",
        "Committed",
        "Other",
        None,
    ]
    assert values.subscription_id("/subscriptions/ABC-1") == "abc-1"
    assert values.service_category("Virtual Machines") == "Compute"
    assert values.service_category("Something new", "Networking") == "Networking"
    assert values.service_category(None) == "Other"


def test_detect_header_variants() -> None:
    assert detect(list(EA_LEGACY_HEADER)).version == "ea-legacy"
    assert detect(list(EA_CURRENT_HEADER), hint="x/amortizedcost/part_0.csv").dataset == "amortized"
    mca = detect(list(MCA_HEADER), manifest_type="AmortizedCost")
    assert (mca.dataset, mca.version, mca.assumed) == ("amortized", "mca", False)
    assert mca.columns["cost"] == "costInBillingCurrency"
    assert mca.columns["rg"] == "resourceGroupName"
    assumed = detect(["\ufeffDate", "Cost", "BillingCurrency"])
    assert (assumed.dataset, assumed.assumed, assumed.metrics) == ("actual", True, ("BilledCost",))
    # case-insensitive fallback and header order do not matter
    shuffled = detect(["COST", "billingcurrency", "DATE"], hint="actual")
    assert shuffled.columns["cost"] == "COST"
    with pytest.raises(UnknownHeaderError, match="unknown header set"):
        detect(["Foo", "Bar"])


def test_manifest_tolerates_missing_fields() -> None:
    m = parse_manifest(b"{}", "exports/x/20240501-20240531/run-9/manifest.json")
    assert m.run_id == "run-9"
    assert m.blobs == ()
    assert m.submitted == ""
    assert clean_blob_name(" folder/sample/ 0000/part0.csv") == "folder/sample/0000/part0.csv"
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_manifest(b"{", "m.json")
