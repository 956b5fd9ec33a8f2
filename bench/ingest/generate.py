"""Generate a realistic EA actual-cost export: all 55 real columns, ~700 bytes a row.

Rows are drawn from a pool of distinct resources (subscriptions, resource groups, meters,
long ARM ids, tags, AdditionalInfo JSON) the way real exports repeat them; the date,
quantity and cost vary per row. Costs are written with up to 10 decimals and the exact
total is returned (computed with integers), so tests can check ingestion to the cent.
"""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal
from pathlib import Path

from ingest.cost.columns import EA_LEGACY_HEADER

__all__ = ["write_ea_export"]

_METERS = [
    ("Virtual Machines", "Dv5 Series", "D4s v5", "Compute", "Microsoft.Compute", "virtualMachines", "1 Hour"),
    ("Storage", "Premium SSD Managed Disks", "P10 LRS Disk", "Storage", "Microsoft.Compute", "disks", "1/Month"),
    (
        "Storage",
        "Tiered Block Blob",
        "Hot LRS Data Stored",
        "Storage",
        "Microsoft.Storage",
        "storageAccounts",
        "1 GB/Month",
    ),
    (
        "Bandwidth",
        "Rtn Preference: MGN",
        "Standard Data Transfer Out",
        "Networking",
        "Microsoft.Network",
        "publicIPAddresses",
        "1 GB",
    ),
    ("SQL Database", "General Purpose - Compute Gen5", "vCore", "Databases", "Microsoft.Sql", "servers", "1 Hour"),
    ("Azure App Service", "Premium v3 Plan", "P1 v3 App", "Compute", "Microsoft.Web", "serverFarms", "1 Hour"),
    (
        "Log Analytics",
        "Analytics Logs",
        "Pay-as-you-go Data Ingestion",
        "Management and Governance",
        "Microsoft.OperationalInsights",
        "workspaces",
        "1 GB",
    ),
    (
        "Azure Cosmos DB",
        "Azure Cosmos DB serverless",
        "Request Units",
        "Databases",
        "Microsoft.DocumentDB",
        "databaseAccounts",
        "1M",
    ),
]
_REGIONS = ["eastus", "westeurope", "uksouth", "eastus2", "northeurope", "westus3"]


def _pool(rng: random.Random, n: int, billing_account: str, month: str) -> list[tuple[str, str, str]]:
    subs = [f"{rng.getrandbits(128):032x}" for _ in range(12)]
    subs = [f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}" for s in subs]
    y, m = month.split("-")
    last = 28
    out = []
    for i in range(n):
        sub = subs[i % len(subs)]
        kind = rng.choice(["web", "data", "ml", "shared", "platform", "batch"])
        rg = f"rg-{kind}-{rng.choice(['prod', 'dev', 'test'])}-{i % 40:02d}"
        cat, subcat, meter, family, ns, rtype, unit = _METERS[i % len(_METERS)]
        region = rng.choice(_REGIONS)
        name = f"{rtype[:-1].lower()}-{rng.getrandbits(40):010x}"
        rid = f"/subscriptions/{sub}/resourceGroups/{rg.upper() if i % 5 == 0 else rg}/providers/{ns}/{rtype}/{name}"
        tags = f'"CostCenter": "{1000 + i % 37}","env": "{rg.rsplit("-", 2)[-2]}","app": "app-{i % 61}"'
        info = '{"ServiceType":"Standard_D4s_v5","VCPUs":4}' if rtype == "virtualMachines" else ""
        values = {
            "BillingAccountId": billing_account,
            "BillingAccountName": "Contoso EA",
            "BillingPeriodStartDate": f"{m}/01/{y}",
            "BillingPeriodEndDate": f"{m}/{last}/{y}",
            "BillingProfileId": billing_account,
            "BillingProfileName": "Contoso EA",
            "AccountOwnerId": f"owner{i % 9}@contoso.onmicrosoft.com",
            "AccountName": f"Account {i % 9}",
            "SubscriptionId": sub,
            "SubscriptionName": f"Contoso Subscription {subs.index(sub)}",
            "Product": f"{cat} {subcat} - {meter} - {region}",
            "PartNumber": f"AAA-{10000 + i % 900}",
            "MeterId": f"{rng.getrandbits(128):032x}",
            "ServiceFamily": family,
            "MeterCategory": cat,
            "MeterSubCategory": subcat,
            "MeterRegion": region,
            "MeterName": meter,
            "UnitPrice": "0.192",
            "BillingCurrency": "USD",
            "ResourceLocation": region,
            "AvailabilityZone": "",
            "ConsumedService": ns,
            "ResourceId": rid,
            "ResourceName": name,
            "ServiceInfo1": "",
            "ServiceInfo2": "",
            "AdditionalInfo": info,
            "Tags": tags,
            "InvoiceSectionId": "ACM",
            "InvoiceSection": "ACM Invoice Section",
            "CostCenter": f"CC{i % 37}",
            "UnitOfMeasure": unit,
            "ResourceGroup": rg,
            "ReservationId": "",
            "ReservationName": "",
            "ProductOrderId": "",
            "ProductOrderName": "",
            "OfferId": "MS-AZR-0017P",
            "IsAzureCreditEligible": "True",
            "Term": "",
            "PublisherName": "Microsoft",
            "PlanName": "",
            "ChargeType": "Usage",
            "Frequency": "UsageBased",
            "PublisherType": "Azure",
            "PayGPrice": "0.192",
            "PricingModel": "OnDemand",
            "CostAllocationRuleName": "",
            "benefitId": "",
            "benefitName": "",
        }
        cols = list(EA_LEGACY_HEADER)
        i_date, i_qty = cols.index("Date"), cols.index("Quantity")
        parts = []
        for a, b in ((0, i_date), (i_date + 1, i_qty), (i_qty + 3, len(cols))):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow([values.get(c, "") for c in cols[a:b]])
            parts.append(buf.getvalue())
        out.append((parts[0], parts[1], parts[2]))
    return out


def write_ea_export(
    path: Path,
    rows: int,
    *,
    seed: int = 7,
    billing_account: str = "8611537",
    month: str = "2024-05",
    pool_size: int = 20_000,
) -> Decimal:
    """Write ``rows`` rows (UTF-8 with BOM, MM/dd/yyyy dates); returns the exact total of the Cost column."""
    assert list(EA_LEGACY_HEADER[19:22]) == ["Quantity", "EffectivePrice", "Cost"]
    rng = random.Random(seed)
    pool = _pool(rng, min(pool_size, max(rows, 1)), billing_account, month)
    y, m = month.split("-")
    dates = [f"{m}/{d:02d}/{y}" for d in range(1, 29)]
    total_units = 0  # cost in units of 1e-10
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff" + ",".join(EA_LEGACY_HEADER) + "\n")
        chunk: list[str] = []
        for i in range(rows):
            p1, p2, p3 = pool[rng.randrange(len(pool))]
            units = rng.randrange(0, 5_000_000_000_000)  # up to 500.0000000000
            total_units += units
            cost = f"{units // 10**10}.{units % 10**10:010d}".rstrip("0").rstrip(".")
            qty = f"{rng.randrange(1, 240000) / 10000:.4f}"
            chunk.append(f"{p1},{dates[i % 28]},{p2},{qty},0.192,{cost},{p3}\n")
            if len(chunk) >= 10_000:
                fh.write("".join(chunk))
                chunk.clear()
        fh.write("".join(chunk))
    return Decimal(total_units).scaleb(-10)
