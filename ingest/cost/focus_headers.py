"""Published FOCUS column lists of other clouds' exports (reference headers for fixtures and the simulator).

* ``AWS_FOCUS_1_0``: AWS Data Exports, "FOCUS 1.0 with AWS columns" (table ``FOCUS_1_0_AWS``): the 43
  FOCUS 1.0 columns plus x_CostCategories, x_Discounts, x_Operation, x_ServiceCode, x_UsageType (48).
  https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-0-aws-columns.html
* ``AWS_FOCUS_1_2``: AWS Data Exports, "FOCUS 1.2 with AWS columns" (table ``FOCUS_1_2_AWS``): the 57
  FOCUS 1.2 columns plus x_Discounts, x_Operation, x_ServiceCode (60); x_UsageType became SkuMeter and
  x_CostCategories moved into Tags. https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-2-aws-columns.html
* ``GCP_FOCUS``: Google Cloud's FOCUS BigQuery export / view, which targets FOCUS 1.0: the 43 FOCUS 1.0
  columns (Google's own ``x_`` columns are not listed: not verified here, and Vigil reads none of them).
  https://cloud.google.com/billing/docs/how-to/export-data-bigquery-tables/focus-export

The FOCUS specification (https://focus.finops.org) is the reference for the FOCUS column names.
"""

from __future__ import annotations

__all__ = ["AWS_FOCUS_1_0", "AWS_FOCUS_1_2", "FOCUS_1_0", "FOCUS_1_2", "GCP_FOCUS"]

FOCUS_1_0 = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
]
FOCUS_1_2 = sorted(
    [
        *FOCUS_1_0,
        "BillingAccountType",
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
        "SubAccountType",
    ]
)
AWS_FOCUS_1_0 = [*FOCUS_1_0, "x_CostCategories", "x_Discounts", "x_Operation", "x_ServiceCode", "x_UsageType"]
AWS_FOCUS_1_2 = [*FOCUS_1_2, "x_Discounts", "x_Operation", "x_ServiceCode"]
GCP_FOCUS = list(FOCUS_1_0)
