"""Column alias maps and dataset/version detection for Cost Management exports.

Columns are always found by header name (case-sensitive first, then
case-insensitive), never by position. Stdlib only: safe on the event path.

Datasets:

* ``actual`` / ``amortized``: EA and MCA cost details, in three header families
  (``ea-legacy``: ``Cost``/``BillingCurrency``/``Product``; ``ea-current``:
  ``CostInBillingCurrency``/``BillingCurrencyCode``/``ProductName``; ``mca``:
  camelCase such as ``costInBillingCurrency``). Actual and amortized files share
  a header, so the dataset comes from the manifest (``exportConfig.type``), an
  explicit hint, or the file path; otherwise ``actual`` is assumed and reported.
* ``focus``: FOCUS exports 1.0-preview(v1), 1.0, 1.0r2, 1.2-preview, 1.2.
  1.0 and 1.0r2 have identical headers; only the manifest tells them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EA_ALIASES",
    "FOCUS_ALIASES",
    "Detected",
    "UnknownHeaderError",
    "detect",
    "resolve",
]


class UnknownHeaderError(ValueError):
    """The header matches no known export dataset."""


# Logical field -> header names, in order of preference.
EA_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("Date", "UsageDate", "date", "usageDate"),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost", "costInBillingCurrency", "cost", "preTaxCost"),
    "currency": ("BillingCurrencyCode", "BillingCurrency", "billingCurrencyCode", "billingCurrency", "Currency"),
    "billing_account": ("BillingAccountId", "billingAccountId"),
    "billing_profile": ("BillingProfileId", "billingProfileId"),
    "billing_period_start": ("BillingPeriodStartDate", "billingPeriodStartDate"),
    "sub_id": ("SubscriptionId", "subscriptionId", "SubscriptionGuid", "subscriptionGuid"),
    "sub_name": ("SubscriptionName", "subscriptionName"),
    "rg": ("ResourceGroup", "ResourceGroupName", "resourceGroup", "resourceGroupName"),
    "resource_id": ("ResourceId", "InstanceId", "resourceId", "instanceId", "instanceName"),
    "resource_name": ("ResourceName", "resourceName"),
    "meter_category": ("MeterCategory", "meterCategory"),
    "service_family": ("ServiceFamily", "serviceFamily"),
    "consumed_service": ("ConsumedService", "consumedService"),
    "region": ("ResourceLocation", "resourceLocation", "ResourceLocationNormalized", "resourceLocationNormalized"),
    "charge_type": ("ChargeType", "chargeType"),
    "charge_frequency": ("Frequency", "frequency"),
    "pricing_model": ("PricingModel", "pricingModel"),
    "quantity": ("Quantity", "quantity"),
    "unit": ("UnitOfMeasure", "unitOfMeasure"),
    "tags": ("Tags", "tags"),
    "benefit_id": ("benefitId", "BenefitId", "ReservationId", "reservationId"),
    "reseller": ("resellerName", "ResellerName"),
}
EA_REQUIRED = ("date", "cost")

FOCUS_ALIASES: dict[str, tuple[str, ...]] = {
    "start": ("ChargePeriodStart",),
    "end": ("ChargePeriodEnd",),
    "billed": ("BilledCost",),
    "effective": ("EffectiveCost",),
    "currency": ("BillingCurrency",),
    "billing_account": ("BillingAccountId",),
    "billing_period_start": ("BillingPeriodStart",),
    "sub_id": ("SubAccountId",),
    "sub_name": ("SubAccountName",),
    "rg": ("x_ResourceGroupName",),
    "resource_id": ("ResourceId",),
    "resource_name": ("ResourceName",),
    "arm_type": ("x_ResourceType",),
    "resource_type": ("ResourceType",),
    "service_name": ("ServiceName",),
    "service_category": ("ServiceCategory",),
    "region": ("RegionId", "Region"),
    "charge_category": ("ChargeCategory",),
    "charge_frequency": ("ChargeFrequency",),
    "pricing_category": ("PricingCategory",),
    "quantity": ("ConsumedQuantity", "UsageQuantity"),
    "unit": ("ConsumedUnit", "UsageUnit"),
    "tags": ("Tags",),
    "commitment_id": ("CommitmentDiscountId",),
    "provider": ("ProviderName",),
    "service_provider": ("ServiceProviderName",),
    "invoice_issuer": ("InvoiceIssuerName",),
}
FOCUS_REQUIRED = ("start", "billed", "effective", "currency")


@dataclass(frozen=True, slots=True)
class Detected:
    """What a file is: dataset (actual|amortized|focus), version/variant and the resolved columns."""

    dataset: str
    version: str
    columns: Mapping[str, str] = field(default_factory=dict)  # logical field -> header name
    assumed: bool = False  # dataset was guessed (actual vs amortized had no manifest or hint)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Which of BilledCost / EffectiveCost this dataset carries."""
        if self.dataset == "focus":
            return ("BilledCost", "EffectiveCost")
        return ("BilledCost",) if self.dataset == "actual" else ("EffectiveCost",)


def resolve(header: Sequence[str], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Map logical fields to the header names present (exact match first, then case-insensitive)."""
    present = {h.strip().lstrip("\ufeff"): h for h in header}
    lower = {k.lower(): v for k, v in present.items()}
    found: dict[str, str] = {}
    for name, candidates in aliases.items():
        for cand in candidates:
            if cand in present:
                found[name] = present[cand]
                break
        else:
            for cand in candidates:
                if cand.lower() in lower:
                    found[name] = lower[cand.lower()]
                    break
    return found


_MANIFEST_TYPES = {
    "actualcost": "actual",
    "usage": "actual",
    "amortizedcost": "amortized",
    "focuscost": "focus",
}


def _focus_version(names: set[str], data_version: str | None) -> str:
    if data_version:
        dv = data_version.lower().replace("(v1)", "").strip()
        for v in ("1.0-preview", "1.0r2", "1.2-preview", "1.0", "1.2"):
            if dv.startswith(v):
                return v
    if ("Region" in names and "RegionId" not in names) or "UsageQuantity" in names:
        return "1.0-preview"
    if "CapacityReservationId" in names or "ServiceSubcategory" in names:
        return "1.2-preview" if "x_SkuDetails" in names else "1.2"
    return "1.0"  # 1.0 and 1.0r2 share a header


def _ea_variant(names: set[str]) -> str:
    if "costInBillingCurrency" in names or "billingCurrencyCode" in names or "billingAccountId" in names:
        return "mca"
    if "CostInBillingCurrency" in names or "BillingCurrencyCode" in names:
        return "ea-current"
    return "ea-legacy"


def detect(
    header: Sequence[str],
    *,
    manifest_type: str | None = None,
    data_version: str | None = None,
    hint: str | None = None,
) -> Detected:
    """Detect dataset and version from the manifest type, a hint (path or --dataset), or the header."""
    names = {h.strip().lstrip("\ufeff") for h in header}
    focus_cols = resolve(header, FOCUS_ALIASES)
    if all(k in focus_cols for k in FOCUS_REQUIRED):
        return Detected("focus", _focus_version(names, data_version), focus_cols)
    ea_cols = resolve(header, EA_ALIASES)
    if not all(k in ea_cols for k in EA_REQUIRED):
        # The header is file content: say how many columns there are, never what they say (a file that
        # is not an export at all, a secrets file say, must not reach the log or the checkpoint row).
        raise UnknownHeaderError(
            "unknown header set: neither a FOCUS export (needs ChargePeriodStart, BilledCost, EffectiveCost, "
            "BillingCurrency) nor an EA/MCA cost export (needs Date and Cost or CostInBillingCurrency); "
            f"the header has {len(header)} columns"
        )
    variant = _ea_variant(names)
    dataset = _MANIFEST_TYPES.get((manifest_type or "").lower().replace(" ", ""))
    assumed = False
    if dataset is None or dataset == "focus":
        h = (hint or "").lower()
        if "amortiz" in h:
            dataset = "amortized"
        elif "actual" in h or "usage" in h:
            dataset = "actual"
        else:
            dataset, assumed = "actual", True
    return Detected(dataset, variant, ea_cols, assumed=assumed)


# Reference headers (used by fixtures and the benchmark generator).
EA_LEGACY_HEADER: tuple[str, ...] = (
    "BillingAccountId",
    "BillingAccountName",
    "BillingPeriodStartDate",
    "BillingPeriodEndDate",
    "BillingProfileId",
    "BillingProfileName",
    "AccountOwnerId",
    "AccountName",
    "SubscriptionId",
    "SubscriptionName",
    "Date",
    "Product",
    "PartNumber",
    "MeterId",
    "ServiceFamily",
    "MeterCategory",
    "MeterSubCategory",
    "MeterRegion",
    "MeterName",
    "Quantity",
    "EffectivePrice",
    "Cost",
    "UnitPrice",
    "BillingCurrency",
    "ResourceLocation",
    "AvailabilityZone",
    "ConsumedService",
    "ResourceId",
    "ResourceName",
    "ServiceInfo1",
    "ServiceInfo2",
    "AdditionalInfo",
    "Tags",
    "InvoiceSectionId",
    "InvoiceSection",
    "CostCenter",
    "UnitOfMeasure",
    "ResourceGroup",
    "ReservationId",
    "ReservationName",
    "ProductOrderId",
    "ProductOrderName",
    "OfferId",
    "IsAzureCreditEligible",
    "Term",
    "PublisherName",
    "PlanName",
    "ChargeType",
    "Frequency",
    "PublisherType",
    "PayGPrice",
    "PricingModel",
    "CostAllocationRuleName",
    "benefitId",
    "benefitName",
)
_EA_RENAMES = {"Cost": "CostInBillingCurrency", "BillingCurrency": "BillingCurrencyCode", "Product": "ProductName"}
EA_CURRENT_HEADER: tuple[str, ...] = (
    *(_EA_RENAMES.get(h, h) for h in EA_LEGACY_HEADER),
    "CostInPricingCurrency",
    "PricingCurrencyCode",
    "ExchangeRatePricingToBilling",
    "ExchangeRateDate",
)
MCA_HEADER: tuple[str, ...] = (
    "invoiceId",
    "previousInvoiceId",
    "billingAccountId",
    "billingAccountName",
    "billingProfileId",
    "billingProfileName",
    "invoiceSectionId",
    "invoiceSectionName",
    "resellerName",
    "resellerMpnId",
    "costCenter",
    "billingPeriodEndDate",
    "billingPeriodStartDate",
    "servicePeriodEndDate",
    "servicePeriodStartDate",
    "date",
    "serviceFamily",
    "productOrderId",
    "productOrderName",
    "consumedService",
    "meterId",
    "meterName",
    "meterCategory",
    "meterSubCategory",
    "meterRegion",
    "ProductId",
    "ProductName",
    "SubscriptionId",
    "subscriptionName",
    "publisherType",
    "publisherId",
    "publisherName",
    "resourceGroupName",
    "ResourceId",
    "resourceLocation",
    "location",
    "effectivePrice",
    "quantity",
    "unitOfMeasure",
    "chargeType",
    "billingCurrency",
    "pricingCurrency",
    "costInBillingCurrency",
    "costInUsd",
    "exchangeRatePricingToBilling",
    "exchangeRateDate",
    "serviceInfo1",
    "serviceInfo2",
    "additionalInfo",
    "tags",
    "PayGPrice",
    "frequency",
    "term",
    "reservationId",
    "reservationName",
    "pricingModel",
    "unitPrice",
    "costAllocationRuleName",
    "benefitId",
    "benefitName",
    "provider",
)
