"""Daily costs as Cost Management exports: EA actual cost (55 columns, gzip) and FOCUS 1.0, with manifests."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.billing import ar1_factors, billed_on, holidays_between, incomplete_share
from vigil.simulate.model import (
    BILLING_ACCOUNT,
    BILLING_ACCOUNT_NAME,
    COST_DAYS,
    EXPORT_NAMES,
    EXPORT_SCOPES,
    MCA_ACCOUNT,
    MCA_NAME,
    METER_REGIONS,
    REGION_NAMES,
    ROWS_PER_PART,
    VM_CORES,
    Res,
    Sub,
    dump,
    fmt_money,
    iso7,
    month_start,
    new_uuid,
    next_month,
)

# The 55 columns of a real EA actual-cost export (finops-toolkit EA_ActualCost_Small.csv, in order).
_EA_COLUMNS_TEXT = """
    BillingAccountId BillingAccountName BillingPeriodStartDate BillingPeriodEndDate BillingProfileId
    BillingProfileName AccountOwnerId AccountName SubscriptionId SubscriptionName Date Product PartNumber
    MeterId ServiceFamily MeterCategory MeterSubCategory MeterRegion MeterName Quantity EffectivePrice Cost
    UnitPrice BillingCurrency ResourceLocation AvailabilityZone ConsumedService ResourceId ResourceName
    ServiceInfo1 ServiceInfo2 AdditionalInfo Tags InvoiceSectionId InvoiceSection CostCenter UnitOfMeasure
    ResourceGroup ReservationId ReservationName ProductOrderId ProductOrderName OfferId
    IsAzureCreditEligible Term PublisherName PlanName ChargeType Frequency PublisherType PayGPrice
    PricingModel CostAllocationRuleName benefitId benefitName
    """
EA_COLUMNS: tuple[str, ...] = tuple(_EA_COLUMNS_TEXT.split())

# FOCUS 1.0 columns of a Cost Management FocusCost export (finops-toolkit schemas/focuscost_1.0.json, in order).
_FOCUS_COLUMNS_TEXT = """
    BilledCost BillingAccountId BillingAccountName BillingAccountType BillingCurrency BillingPeriodEnd
    BillingPeriodStart ChargeCategory ChargeClass ChargeDescription ChargeFrequency ChargePeriodEnd
    ChargePeriodStart CommitmentDiscountCategory CommitmentDiscountId CommitmentDiscountName
    CommitmentDiscountStatus CommitmentDiscountType ConsumedQuantity ConsumedUnit ContractedCost
    ContractedUnitPrice EffectiveCost InvoiceIssuerName ListCost ListUnitPrice PricingCategory
    PricingQuantity PricingUnit ProviderName PublisherName RegionId RegionName ResourceId ResourceName
    ResourceType ServiceCategory ServiceName SkuId SkuPriceId SubAccountId SubAccountName SubAccountType
    Tags x_AccountId x_AccountName x_AccountOwnerId x_BilledCostInUsd x_BilledUnitPrice x_BillingAccountId
    x_BillingAccountName x_BillingExchangeRate x_BillingExchangeRateDate x_BillingProfileId
    x_BillingProfileName x_ContractedCostInUsd x_CostAllocationRuleName x_CostCenter x_CustomerId
    x_CustomerName x_EffectiveCostInUsd x_EffectiveUnitPrice x_InvoiceId x_InvoiceIssuerId
    x_InvoiceSectionId x_InvoiceSectionName x_ListCostInUsd x_PartnerCreditApplied x_PartnerCreditRate
    x_PricingBlockSize x_PricingCurrency x_PricingSubcategory x_PricingUnitDescription x_PublisherCategory
    x_PublisherId x_ResellerId x_ResellerName x_ResourceGroupName x_ResourceType x_ServicePeriodEnd
    x_ServicePeriodStart x_SkuDescription x_SkuDetails x_SkuIsCreditEligible x_SkuMeterCategory x_SkuMeterId
    x_SkuMeterName x_SkuMeterSubcategory x_SkuOfferId x_SkuOrderId x_SkuOrderName x_SkuPartNumber
    x_SkuRegion x_SkuServiceFamily x_SkuTerm x_SkuTier
    """
FOCUS_COLUMNS: tuple[str, ...] = tuple(_FOCUS_COLUMNS_TEXT.split())


# ----------------------------------------------------------------------------- usage model


def _hours_running(r: Res, day: date, last_day: date, rng: random.Random) -> float:
    """Billable hours of a compute resource on one day."""
    p = r.profile
    if p == "off":
        return 0.0
    if p == "spike":
        return 24.0 if (last_day - day).days < 2 else float(rng.choice((4, 5, 5, 5, 6)))
    if p == "batch":
        return float(rng.choice((0, 2, 3, 4))) if day.weekday() < 5 else 0.0
    if p == "dev":
        return float(rng.choice((9, 10, 11))) if day.weekday() < 5 else float(rng.choice((0, 0, 2)))
    return 24.0  # normal, idle


@dataclass
class _Row:
    day: date
    res: Res
    qty: float
    cost: float


@dataclass
class _Purchase:
    """A purchase billed to a subscription: a reservation or Marketplace plan billed monthly, or a one-off."""

    day: date
    sub: Sub
    order_id: str
    name: str  # reservation / plan name
    product: str
    cost: float
    frequency: str  # EA/MCA spelling: Recurring or OneTime
    marketplace: bool = False


# Billing phenomena of issue 16 in the demo tenant (vigil/simulate/billing.py holds their shared code). The
# planted problems do not change: the GPU VM's spike is compute, which is never late, and the cost model
# neither learns from nor alarms on the purchases, holidays and late meters below.
_LATE_METERS = frozenset({"storage"})  # usage profiles whose meters report late: the newest days are partial
_DEV_SHUTDOWN = (46, 53)  # days before the last day when the dev VMs were switched off (a quiet week)


def apply_billing(rows: list[_Row], now: datetime, rng: random.Random) -> list[_Row]:
    """Real billing on the usage rows: dev and batch VMs off on US holidays and for a week, autocorrelated
    day-to-day noise (CV 3-8 %) on storage, and the newest 3 days of late meters still incomplete."""
    last_day = (now - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=COST_DAYS - 1)
    holidays = holidays_between(first_day, last_day, "US")
    off_from, off_to = (last_day - timedelta(days=d) for d in reversed(_DEV_SHUTDOWN))
    noise: dict[str, list[float]] = {}
    out: list[_Row] = []
    for row in rows:
        r = row.res
        if r.profile in ("dev", "batch") and (
            row.day in holidays or (r.profile == "dev" and off_from <= row.day <= off_to)
        ):
            continue  # switched off: no usage row at all, as in a real export
        qty, cost = row.qty, row.cost
        if r.profile == "storage":
            if r.id not in noise:
                n = COST_DAYS
                noise[r.id] = ar1_factors([rng.gauss(0.0, 1.0) for _ in range(n)], rng.uniform(0.03, 0.08), 0.6)
            f = noise[r.id][(row.day - first_day).days]
            qty, cost = round(qty * f, 6), round(cost * f, 6)
        if r.profile in _LATE_METERS:
            share = incomplete_share((last_day - row.day).days)
            qty, cost = round(qty * share, 6), round(cost * share, 6)
        out.append(_Row(row.day, r, qty, cost))
    return out


def purchase_rows(subs: list[Sub], now: datetime, rng: random.Random) -> list[_Purchase]:
    """A 1-year reservation billed monthly on its anniversary (the 21st) to the production subscription, a
    Marketplace plan billed monthly on the 1st to the dev/test subscription, and one one-off purchase."""
    last_day = (now - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=COST_DAYS - 1)
    prod, dev = subs[0], subs[-1]
    ri, plan, once = new_uuid(rng), new_uuid(rng), new_uuid(rng)
    out: list[_Purchase] = []
    day = first_day
    while day <= last_day:
        if billed_on(day, 21):
            out.append(
                _Purchase(
                    day,
                    prod,
                    ri,
                    "VM_RI_batch",
                    "Reserved VM Instance, Standard_D4s_v5, East US, 1 Year",
                    96.36,
                    "Recurring",
                )
            )
        if billed_on(day, 1):
            out.append(
                _Purchase(
                    day, dev, plan, "GitHub Enterprise", "GitHub Enterprise (per-user plan)", 441.0, "Recurring", True
                )
            )
        if day == last_day - timedelta(days=38):
            out.append(
                _Purchase(day, prod, once, "Azure DevOps", "Azure DevOps Basic Plan (one-off)", 1200.0, "OneTime")
            )
        day += timedelta(days=1)
    return out


def cost_rows(res: list[Res], now: datetime, rng: random.Random) -> list[_Row]:
    last_day = (now - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=COST_DAYS - 1)
    rows: list[_Row] = []
    day = first_day
    while day <= last_day:
        for r in res:
            m = r.meter
            if m is None:
                continue
            if m["unit"] == "1 Hour" and r.type != "Microsoft.Network/publicIPAddresses":
                qty = _hours_running(r, day, last_day, rng)
                if qty <= 0:
                    continue
            elif r.profile == "storage":
                growth = 1 + 0.002 * (day - first_day).days
                qty = m["daily_qty"] * growth * rng.uniform(0.98, 1.02)
            else:
                qty = m["daily_qty"]
            rows.append(_Row(day, r, round(qty, 6), round(qty * m["price"], 6)))
        day += timedelta(days=1)
    return rows


def _tags_ea(tags: dict[str, str]) -> str:
    # EA exports write tags as JSON members without the outer braces.
    return ",".join(f'"{k}": "{v}"' for k, v in tags.items())


def _ea_common(d: date, sub: Sub) -> dict[str, str]:
    """The billing account, period, subscription and date columns of an EA row (usage or purchase)."""
    ps, pe = month_start(d), next_month(d) - timedelta(days=1)
    return {
        "BillingAccountId": BILLING_ACCOUNT,
        "BillingAccountName": BILLING_ACCOUNT_NAME,
        "BillingPeriodStartDate": ps.strftime("%m/%d/%Y"),
        "BillingPeriodEndDate": pe.strftime("%m/%d/%Y"),
        "BillingProfileId": BILLING_ACCOUNT,
        "BillingProfileName": BILLING_ACCOUNT_NAME,
        "AccountOwnerId": "finops@contoso.com",
        "AccountName": "Contoso Cloud",
        "SubscriptionId": sub.id,
        "SubscriptionName": sub.name,
        "Date": d.strftime("%m/%d/%Y"),
        "BillingCurrency": "USD",
        "InvoiceSectionId": "IS-100",
        "InvoiceSection": "Cloud Platform",
    }


def _focus_common(d: date, sub: Sub) -> dict[str, str]:
    """The billing account, period and subscription columns of a FOCUS row (usage or purchase)."""
    ps, pe = month_start(d), next_month(d)
    return {
        "BillingAccountId": EXPORT_SCOPES["focus"],
        "BillingAccountName": MCA_NAME,
        "BillingAccountType": "Billing Account",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": pe.strftime("%Y-%m-%dT00:00:00Z"),
        "BillingPeriodStart": ps.strftime("%Y-%m-%dT00:00:00Z"),
        "SubAccountId": f"/subscriptions/{sub.id}",
        "SubAccountName": sub.name,
        "SubAccountType": "Subscription",
        "x_BillingAccountId": MCA_ACCOUNT,
        "x_BillingAccountName": MCA_NAME,
        "x_BillingExchangeRate": "1",
        "x_BillingProfileId": BILLING_ACCOUNT,
        "x_BillingProfileName": BILLING_ACCOUNT_NAME,
        "x_InvoiceSectionId": "IS-100",
        "x_InvoiceSectionName": "Cloud Platform",
        "x_PricingCurrency": "USD",
    }


def _ea_record(row: _Row, part_number: str, meter_id: str) -> dict[str, str]:
    r, m, d = row.res, row.res.meter or {}, row.day
    info = ""
    if "size" in m:
        info = json.dumps({"ServiceType": m["size"], "VCPUs": VM_CORES.get(m["size"], 0)})
    return {
        **_ea_common(d, r.sub),
        "Product": m["product"],
        "PartNumber": part_number,
        "MeterId": meter_id,
        "ServiceFamily": m["family"],
        "MeterCategory": m["category"],
        "MeterSubCategory": m["subcategory"],
        "MeterRegion": METER_REGIONS[r.location],
        "MeterName": m["name"],
        "Quantity": fmt_money(row.qty),
        "EffectivePrice": fmt_money(m["price"]),
        "Cost": fmt_money(row.cost),
        "UnitPrice": fmt_money(m["price"]),
        "ResourceLocation": r.location,
        "AvailabilityZone": "",
        "ConsumedService": m["consumed"],
        "ResourceId": r.id,
        "ResourceName": r.name.split("/")[-1],
        "ServiceInfo1": "",
        "ServiceInfo2": "",
        "AdditionalInfo": info,
        "Tags": _tags_ea(r.tags),
        "CostCenter": r.tags.get("costcenter", ""),
        "UnitOfMeasure": m["unit"],
        "ResourceGroup": r.rg,
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
        "PayGPrice": fmt_money(m["price"]),
        "PricingModel": "OnDemand",
        "CostAllocationRuleName": "",
        "benefitId": "",
        "benefitName": "",
    }


def _focus_record(row: _Row, part_number: str, meter_id: str) -> dict[str, str]:
    r, m, d = row.res, row.res.meter or {}, row.day
    ps = month_start(d)
    day_iso = d.strftime("%Y-%m-%dT00:00:00Z")
    rec = dict.fromkeys(FOCUS_COLUMNS, "")
    cost = fmt_money(row.cost)
    rec.update(
        {
            **_focus_common(d, r.sub),
            "BilledCost": cost,
            "ChargeCategory": "Usage",
            "ChargeDescription": m["product"],
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": (d + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
            "ChargePeriodStart": day_iso,
            "ConsumedQuantity": fmt_money(row.qty),
            "ConsumedUnit": m["unit"].split(" ", 1)[-1] if " " in m["unit"] else m["unit"],
            "ContractedCost": cost,
            "ContractedUnitPrice": fmt_money(m["price"]),
            "EffectiveCost": cost,
            "InvoiceIssuerName": "Microsoft",
            "ListCost": cost,
            "ListUnitPrice": fmt_money(m["price"]),
            "PricingCategory": "Standard",
            "PricingQuantity": fmt_money(row.qty),
            "PricingUnit": m["unit"],
            "ProviderName": "Microsoft",
            "PublisherName": "Microsoft",
            "RegionId": r.location,
            "RegionName": REGION_NAMES[r.location],
            "ResourceId": r.id.lower(),
            "ResourceName": r.name.split("/")[-1],
            "ResourceType": m["focus_type"],
            "ServiceCategory": m["focus_category"],
            "ServiceName": m["focus_service"],
            "SkuId": part_number,
            "SkuPriceId": f"{part_number}_{meter_id[:8]}",
            "Tags": json.dumps(r.tags),
            "x_AccountName": "Contoso Cloud",
            "x_AccountOwnerId": "finops@contoso.com",
            "x_BilledCostInUsd": cost,
            "x_BilledUnitPrice": fmt_money(m["price"]),
            "x_BillingExchangeRateDate": ps.strftime("%Y-%m-%dT00:00:00Z"),
            "x_ContractedCostInUsd": cost,
            "x_CostCenter": r.tags.get("costcenter", ""),
            "x_EffectiveCostInUsd": cost,
            "x_EffectiveUnitPrice": fmt_money(m["price"]),
            "x_ListCostInUsd": cost,
            "x_PricingBlockSize": "1",
            "x_PricingUnitDescription": m["unit"],
            "x_PublisherCategory": "Cloud Provider",
            "x_ResourceGroupName": r.rg,
            "x_ResourceType": r.type,
            "x_ServicePeriodEnd": (d + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
            "x_ServicePeriodStart": day_iso,
            "x_SkuDescription": m["product"],
            "x_SkuDetails": json.dumps({"ServiceType": m["size"]}) if "size" in m else "",
            "x_SkuIsCreditEligible": "True",
            "x_SkuMeterCategory": m["category"],
            "x_SkuMeterId": meter_id,
            "x_SkuMeterName": m["name"],
            "x_SkuMeterSubcategory": m["subcategory"],
            "x_SkuOfferId": "MS-AZR-0017P",
            "x_SkuPartNumber": part_number,
            "x_SkuRegion": METER_REGIONS[r.location],
            "x_SkuServiceFamily": m["family"],
        }
    )
    return rec


def _purchase_id(p: _Purchase) -> str:
    if p.marketplace:
        return f"/subscriptions/{p.sub.id}/providers/Microsoft.SaaS/resources/{p.name.lower().replace(' ', '-')}"
    return f"/providers/Microsoft.Capacity/reservationOrders/{p.order_id}/reservations/"


def _ea_purchase_record(p: _Purchase) -> dict[str, str]:
    """An EA purchase row, shaped like the one in the finops-toolkit sample (ChargeType Purchase, Frequency)."""
    rec = dict.fromkeys(EA_COLUMNS, "")
    rec.update(
        {
            **_ea_common(p.day, p.sub),
            "Product": p.product,
            "MeterCategory": "Marketplace" if p.marketplace else "Reservations",
            "Quantity": "1",
            "EffectivePrice": fmt_money(p.cost),
            "Cost": fmt_money(p.cost),
            "UnitPrice": fmt_money(p.cost),
            "ConsumedService": "Microsoft.SaaS" if p.marketplace else "Microsoft.Capacity",
            "ResourceId": _purchase_id(p),
            "ReservationId": "" if p.marketplace else p.order_id,
            "ReservationName": "" if p.marketplace else p.name,
            "ProductOrderId": p.order_id,
            "ProductOrderName": p.product,
            "IsAzureCreditEligible": "False" if p.marketplace else "True",
            "Term": "12",
            "PublisherName": p.name if p.marketplace else "Microsoft",
            "ChargeType": "Purchase",
            "Frequency": p.frequency,
            "PublisherType": "Marketplace" if p.marketplace else "Azure",
            "PayGPrice": "0",
            "PricingModel": "" if p.marketplace else "Reservation",
        }
    )
    return rec


def _focus_purchase_record(p: _Purchase) -> dict[str, str]:
    """A FOCUS 1.0 purchase row: ChargeCategory Purchase, ChargeFrequency Recurring or One-Time."""
    day_iso = p.day.strftime("%Y-%m-%dT00:00:00Z")
    cost = fmt_money(p.cost)
    rec = dict.fromkeys(FOCUS_COLUMNS, "")
    rec.update(
        {
            **_focus_common(p.day, p.sub),
            "BilledCost": cost,
            "ChargeCategory": "Purchase",
            "ChargeDescription": p.product,
            "ChargeFrequency": "One-Time" if p.frequency == "OneTime" else p.frequency,
            "ChargePeriodEnd": next_month(p.day).strftime("%Y-%m-%dT00:00:00Z"),
            "ChargePeriodStart": day_iso,
            "EffectiveCost": "0",  # amortized over the month in the amortized view; billed now
            "InvoiceIssuerName": "Microsoft",
            "ListCost": cost,
            "PricingCategory": "Standard" if p.marketplace else "Committed",
            "PricingQuantity": "1",
            "ProviderName": "Microsoft",
            "PublisherName": p.name if p.marketplace else "Microsoft",
            "ResourceId": _purchase_id(p).lower(),
            "ResourceName": p.name,
            "ServiceCategory": "Other",
            "ServiceName": "Marketplace" if p.marketplace else "Reservations",
            "x_BilledCostInUsd": cost,
            "x_PublisherCategory": "Vendor" if p.marketplace else "Cloud Provider",
            "x_SkuOrderId": p.order_id,
            "x_SkuOrderName": p.product,
        }
    )
    return rec


def _csv_bytes(columns: tuple[str, ...], records: list[dict[str, str]], *, bom: bool) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(records)
    text = buf.getvalue()
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


def write_exports(
    root: Path,
    subs: list[Sub],
    usage: list[_Row],
    now: datetime,
    rng: random.Random,
    *,
    purchases: Sequence[_Purchase] = (),
) -> tuple[int, int]:
    rows: list[_Row | _Purchase] = [*usage, *purchases]
    meters: dict[str, tuple[str, str]] = {}

    def meter_ids(r: Res) -> tuple[str, str]:
        key = (r.meter or {}).get("product", "")
        if key not in meters:
            meters[key] = (f"AAA-{rng.randint(10000, 99999)}", new_uuid(rng))
        return meters[key]

    container = (
        "/subscriptions/{sub}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/stfinopsexports"
    )
    root_folder = "costexports"
    runs = 0
    total_rows = 0
    for kind in ("ea", "focus"):
        sub_rows = [r for r in rows if (r.sub if isinstance(r, _Purchase) else r.res.sub).export == kind]
        months = sorted({month_start(r.day) for r in sub_rows})
        export_name = EXPORT_NAMES[kind]
        for month in months:
            month_rows = [r for r in sub_rows if month_start(r.day) == month]
            month_end = next_month(month) - timedelta(days=1)
            folder_range = f"{month:%Y%m%d}-{month_end:%Y%m%d}"
            run_id = new_uuid(rng)
            current = month_end >= now.date() - timedelta(days=1)
            submitted = (
                now - timedelta(hours=3)
                if current
                else datetime(month_end.year, month_end.month, month_end.day, tzinfo=UTC) + timedelta(days=5, hours=2)
            )
            rel_dir = f"{root_folder}/{export_name}/{folder_range}/{run_id}"
            blobs: list[dict[str, Any]] = []
            for pi, start in enumerate(range(0, len(month_rows), ROWS_PER_PART)):
                chunk = month_rows[start : start + ROWS_PER_PART]
                if kind == "ea":
                    recs = [
                        _ea_purchase_record(r) if isinstance(r, _Purchase) else _ea_record(r, *meter_ids(r.res))
                        for r in chunk
                    ]
                    data = _gzip(_csv_bytes(EA_COLUMNS, recs, bom=True))
                    name = f"part_0_{pi + 1:04d}.csv.gz"
                else:
                    recs = [
                        _focus_purchase_record(r) if isinstance(r, _Purchase) else _focus_record(r, *meter_ids(r.res))
                        for r in chunk
                    ]
                    data = _csv_bytes(FOCUS_COLUMNS, recs, bom=False)
                    name = f"part_0_{pi + 1:04d}.csv"
                path = root / "exports" / rel_dir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                blobs.append({"blobName": f"{rel_dir}/{name}", "byteCount": len(data), "dataRowCount": len(chunk)})
            manifest = {
                "manifestVersion": "2024-04-01",
                "byteCount": sum(b["byteCount"] for b in blobs),
                "blobCount": len(blobs),
                "dataRowCount": len(month_rows),
                "exportConfig": {
                    "exportName": export_name,
                    "resourceId": f"{EXPORT_SCOPES[kind]}/providers/Microsoft.CostManagement/exports/{export_name}",
                    "dataVersion": "2021-10-01" if kind == "ea" else "1.0",
                    "apiVersion": "2023-07-01-preview",
                    "type": "ActualCost" if kind == "ea" else "FocusCost",
                    "timeFrame": "MonthToDate" if current else "Custom",
                    "granularity": "Daily",
                },
                "deliveryConfig": {
                    "partitionData": True,
                    "dataOverwriteBehavior": "OverwritePreviousReport",
                    "fileFormat": "Csv",
                    "compressionMode": "gzip" if kind == "ea" else "None",
                    "containerUri": container.format(sub=subs[0].id),
                    "rootFolderPath": root_folder,
                },
                "runInfo": {
                    "executionType": "Scheduled" if current else "OnDemand",
                    "submittedTime": iso7(submitted),
                    "runId": run_id,
                    "startDate": f"{month:%Y-%m-%d}T00:00:00",
                    "endDate": f"{min(month_end, now.date() - timedelta(days=1)):%Y-%m-%d}T00:00:00",
                },
                "blobs": blobs,
            }
            dump(root / "exports" / rel_dir / "manifest.json", manifest)
            runs += 1
            total_rows += len(month_rows)
    return runs, total_rows
