"""The normalized cost frame: Vigil's internal cost contract, named after FOCUS.

Every cost source (EA/MCA actual and amortized exports, FOCUS exports, the Cost
Management Query API) is normalized to these columns. Detectors and the digest
read only these columns. The README documents this table; a test keeps the two
in step.

Dtypes are given as pandas/pyarrow dtype strings so that this module stays free
of heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COLUMNS", "Column", "column_names", "pandas_dtypes"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    dtype: str  # pandas dtype string
    description: str
    nullable: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("ChargePeriodStart", "datetime64[ns, UTC]", "Inclusive start of the charge period (UTC).", False),
    Column("ChargePeriodEnd", "datetime64[ns, UTC]", "Exclusive end of the charge period (UTC).", False),
    Column(
        "BilledCost",
        "float64",
        "Cost as invoiced (actual cost), in BillingCurrency. Null when the source only has amortized cost.",
    ),
    Column(
        "EffectiveCost",
        "float64",
        "Amortized cost after commitment discounts, in BillingCurrency. Null when the source only has actual cost.",
    ),
    Column("BillingCurrency", "string", "ISO 4217 code of the billing currency.", False),
    Column("SubAccountId", "string", "Subscription id (lower case GUID)."),
    Column("SubAccountName", "string", "Subscription display name."),
    Column("x_ResourceGroupName", "string", "Resource group name (lower case)."),
    Column("ResourceId", "string", "ARM resource id, canonical lower case."),
    Column("ResourceName", "string", "Resource name."),
    Column("ResourceType", "string", "Resource type, for example microsoft.compute/virtualmachines."),
    Column("ServiceName", "string", "Service, for example Virtual Machines."),
    Column("ServiceCategory", "string", "FOCUS service category, for example Compute."),
    Column("RegionId", "string", "Azure region name, for example eastus."),
    Column("ChargeCategory", "string", "Usage, Purchase, Tax, Credit or Adjustment."),
    Column(
        "ChargeFrequency",
        "string",
        "One-Time, Recurring or Usage-Based (FOCUS ChargeFrequency; EA/MCA Frequency): keeps purchases apart.",
    ),
    Column("PricingCategory", "string", "Standard, Committed, Dynamic or Other."),
    Column("ConsumedQuantity", "float64", "Quantity consumed, in ConsumedUnit."),
    Column("ConsumedUnit", "string", "Unit of ConsumedQuantity."),
    Column("Tags", "string", "Resource tags as a JSON object string."),
    Column("CommitmentDiscountId", "string", "Reservation or savings plan id that applied, if any."),
    Column(
        "ProviderName",
        "string",
        "Cloud that provided the service: Microsoft, AWS, Google Cloud (FOCUS ProviderName).",
    ),
    Column(
        "ServiceProviderName",
        "string",
        "Provider of the service (FOCUS 1.3 ServiceProviderName; before 1.3 the same as ProviderName).",
    ),
    Column("InvoiceIssuerName", "string", "Who issues the invoice: the cloud, or a reseller or partner."),
    Column("x_SourceRunId", "string", "Export run id (or query id) the row came from.", False),
    Column("x_SourceFile", "string", "File (or API call) the row came from.", False),
)


def column_names() -> list[str]:
    return [c.name for c in COLUMNS]


def pandas_dtypes() -> dict[str, str]:
    return {c.name: c.dtype for c in COLUMNS}
