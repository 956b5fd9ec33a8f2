"""Value conversions applied to distinct values (stdlib only).

The normalizer dictionary-encodes each column and applies these functions once
per distinct value, so they may be plain Python without slowing big files down.
Mappings follow the FinOps toolkit's "Convert Cost Management data to FOCUS"
guidance (https://microsoft.github.io/finops-toolkit/focus/convert).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

__all__ = [
    "DECIMAL_PATTERN",
    "QUANTITY_PATTERN",
    "charge_category",
    "charge_frequency",
    "focus_service_name",
    "meter_service_category",
    "normalize_tags",
    "parse_date",
    "pricing_category",
    "resource_name",
    "resource_type",
    "scope_id",
    "service_category",
    "subscription_id",
]

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$", re.ASCII)

# Strict numbers (RE2 syntax, used vectorised by the normalizer): ASCII digits only, an optional
# sign, decimal point and exponent; no "_" separators, no NaN or Infinity, no other scripts' digits
# (Python's Decimal and float accept "1_000", "NaN", "inf" and Arabic-Indic digits). Quantities use
# the same pattern: negative quantities are real (credits and refunds: Microsoft's FOCUS 1.0 sample,
# ../shared/samples/cost/focus_sandbox_1.0_sample_1000rows.csv beside the repository, holds ConsumedQuantity -0.0013).
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?"
DECIMAL_PATTERN = rf"^[+-]?{_NUMBER}$"
QUANTITY_PATTERN = DECIMAL_PATTERN


def parse_date(text: str | None) -> datetime | None:
    """``MM/dd/yyyy`` (optionally with a time), ISO 8601 with or without seconds/zone, or BigQuery's
    ``yyyy-MM-dd HH:mm:ss[.ffffff] UTC``; UTC.

    Returns None when the text is not a date.
    """
    if text is None:
        return None
    s = text.strip()
    if not s or not s.isascii():  # ASCII digits only: int() and fromisoformat accept other scripts' digits
        return None
    m = _US_DATE.match(s)
    if m:
        mo, d, y, hh, mm, ss = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=UTC)
        except ValueError:
            return None
    if s.endswith(" UTC"):  # BigQuery writes TIMESTAMP values as "2025-03-01 00:00:00 UTC" in CSV
        s = s[:-4] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def normalize_tags(text: str | None) -> str | None:
    """Tags as a compact JSON object string.

    EA/MCA exports write tags without the outer braces (``"env": "prod","org": "x"``);
    FOCUS writes a JSON object. Text that is not JSON either way is kept as
    ``{"_raw": text}`` so nothing is lost.
    """
    if text is None:
        return None
    s = text.strip()
    if not s or s in ("{}", "null", "NULL"):
        return None
    candidate = s if s.startswith("{") else "{" + s + "}"
    try:
        obj = json.loads(candidate)
    except ValueError:
        obj = {"_raw": s}
    if not isinstance(obj, dict):
        obj = {"_raw": s}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) if obj else None


def resource_type(resource_id: str | None) -> str | None:
    """ARM resource type from a (lower-case) resource id, e.g. ``microsoft.compute/virtualmachines``."""
    if not resource_id:
        return None
    rid = resource_id.lower()
    idx = rid.rfind("/providers/")
    if idx < 0:
        if rid.startswith("/subscriptions/"):
            return (
                "microsoft.resources/resourcegroups"
                if "/resourcegroups/" in rid
                else "microsoft.resources/subscriptions"
            )
        return None
    parts = [p for p in rid[idx + len("/providers/") :].split("/") if p != ""]
    if len(parts) < 2:
        return None
    # namespace / type / name [/ subtype / subname]...
    types = [parts[0], parts[1]] + [parts[i] for i in range(3, len(parts), 2)]
    return "/".join(types)


# FOCUS ServiceName by ARM resource type, for EA and MCA rows, whose only service column is MeterCategory
# ("Storage" for a storage account and for a managed disk alike; "Virtual Machines" for an Azure ML compute).
# Source: the FinOps toolkit's open data src/open-data/Services.csv (microsoft/finops-toolkit, MIT), the
# mapping behind the ServiceName of Microsoft's FOCUS exports; only its resource types whose ServiceName does
# not depend on ConsumedService are listed. A type not listed keeps MeterCategory.
_FOCUS_SERVICE_BY_TYPE = {
    "microsoft.compute/virtualmachines": "Virtual Machines",
    "microsoft.compute/disks": "Virtual Machines",
    "microsoft.compute/snapshots": "Virtual Machines",
    "microsoft.compute/images": "Virtual Machines",
    "microsoft.compute/galleries": "Virtual Machines",
    "microsoft.compute/virtualmachinescalesets": "Virtual Machine Scale Sets",
    "microsoft.classiccompute/virtualmachines": "Virtual Machines",
    "microsoft.storage/storageaccounts": "Storage Accounts",
    "microsoft.classicstorage/storageaccounts": "Storage Accounts",
    "microsoft.machinelearningservices/workspaces": "Azure Machine Learning",
    "microsoft.machinelearningservices/registries": "Azure Machine Learning",
    "microsoft.containerservice/managedclusters": "Azure Kubernetes Service",
    "microsoft.containerregistry/registries": "Azure Container Registry",
    "microsoft.containerinstance/containergroups": "Azure Container Instances",
    "microsoft.app/containerapps": "Azure Container Apps",
    "microsoft.keyvault/vaults": "Key Vault",
    "microsoft.dbformysql/flexibleservers": "Azure DB for MySQL",
    "microsoft.dbformysql/servers": "Azure DB for MySQL",
    "microsoft.dbforpostgresql/flexibleservers": "Azure DB for PostgreSQL",
    "microsoft.dbforpostgresql/servers": "Azure DB for PostgreSQL",
    "microsoft.documentdb/databaseaccounts": "Cosmos DB",
    "microsoft.cache/redis": "Azure Cache for Redis",
    "microsoft.eventhub/namespaces": "Event Hubs",
    "microsoft.databricks/workspaces": "Azure Databricks",
    "microsoft.datafactory/factories": "Azure Data Factory",
    "microsoft.logic/workflows": "Logic Apps",
    "microsoft.kusto/clusters": "Azure Data Explorer",
    "microsoft.cognitiveservices/accounts": "Azure AI Services",
    "microsoft.network/applicationgateways": "Application Gateway",
    "microsoft.network/azurefirewalls": "Azure Firewall",
    "microsoft.network/bastionhosts": "Azure Bastion",
    "microsoft.network/connections": "Virtual Network",
}


def focus_service_name(resource_type: str | None) -> str | None:
    """The FOCUS ServiceName of an ARM resource type (``microsoft.compute/disks`` is "Virtual Machines"),
    ``None`` for a type not in the mapping (the row keeps its MeterCategory). A child resource
    (``microsoft.machinelearningservices/workspaces/computes``) has its top-level type's service."""
    if not resource_type:
        return None
    rtype = resource_type.lower()
    return _FOCUS_SERVICE_BY_TYPE.get(rtype) or _FOCUS_SERVICE_BY_TYPE.get("/".join(rtype.split("/")[:2]))


def resource_name(resource_id: str | None) -> str | None:
    if not resource_id:
        return None
    tail = resource_id.rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def scope_id(value: str | None) -> str | None:
    """A billing account/profile id, lower case; the last segment of an ARM-style id."""
    if not value:
        return None
    v = value.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    return v or None


def subscription_id(value: str | None) -> str | None:
    """A subscription GUID, lower case, from a GUID or ``/subscriptions/<guid>``."""
    if not value:
        return None
    v = value.strip().lower()
    if v.startswith("/subscriptions/"):
        v = v[len("/subscriptions/") :].split("/", 1)[0]
    return v or None


_CHARGE_SAME = {"usage": "Usage", "purchase": "Purchase", "credit": "Credit", "tax": "Tax"}


def charge_category(charge_type: str | None) -> str | None:
    """ChargeType -> FOCUS ChargeCategory (toolkit mapping)."""
    if not charge_type:
        return None
    ct = charge_type.strip().lower()
    if ct in _CHARGE_SAME:
        return _CHARGE_SAME[ct]
    if ct in ("unusedreservation", "unusedsavingsplan"):
        return "Usage"
    if ct == "refund":
        return "Purchase"
    return "Adjustment"


_FREQUENCY = {"onetime": "One-Time", "recurring": "Recurring", "usagebased": "Usage-Based"}


def charge_frequency(text: str | None) -> str | None:
    """FOCUS ChargeFrequency or EA/MCA Frequency -> One-Time, Recurring or Usage-Based.

    FOCUS writes ``One-Time``/``Recurring``/``Usage-Based`` (the sample has ``Usage-based`` too);
    EA and MCA exports write ``OneTime``/``Recurring``/``UsageBased``. Anything else is kept as written.
    """
    if not text or not text.strip():
        return None
    key = text.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return _FREQUENCY.get(key, text.strip())


def pricing_category(pricing_model: str | None) -> str | None:
    """PricingModel -> FOCUS PricingCategory (toolkit mapping); unknown -> Other, empty -> null."""
    if not pricing_model:
        return None
    pm = pricing_model.strip().lower().replace(" ", "")
    if pm == "ondemand":
        return "Standard"
    if pm == "spot":
        return "Dynamic"
    if pm in ("reservation", "savingsplan"):
        return "Committed"
    return "Other"


_CATEGORY_BY_METER: dict[str, str] = {
    "virtual machines": "Compute",
    "virtual machines licenses": "Compute",
    "container instances": "Compute",
    "azure app service": "Compute",
    "functions": "Compute",
    "azure kubernetes service": "Compute",
    "cloud services": "Compute",
    "batch": "Compute",
    "storage": "Storage",
    "backup": "Storage",
    "bandwidth": "Networking",
    "virtual network": "Networking",
    "load balancer": "Networking",
    "application gateway": "Networking",
    "vpn gateway": "Networking",
    "azure dns": "Networking",
    "azure front door service": "Networking",
    "content delivery network": "Networking",
    "network watcher": "Networking",
    "ip addresses": "Networking",
    "sql database": "Databases",
    "sql managed instance": "Databases",
    "azure cosmos db": "Databases",
    "azure database for mysql": "Databases",
    "azure database for postgresql": "Databases",
    "redis cache": "Databases",
    "advanced threat protection": "Security",
    "advanced data security": "Security",
    "microsoft defender for cloud": "Security",
    "key vault": "Security",
    "sentinel": "Security",
    "log analytics": "Management and Governance",
    "azure monitor": "Management and Governance",
    "insight and analytics": "Management and Governance",
    "automation": "Management and Governance",
    "event grid": "Integration",
    "service bus": "Integration",
    "logic apps": "Integration",
    "api management": "Integration",
    "event hubs": "Integration",
    "azure synapse analytics": "Analytics",
    "azure databricks": "Analytics",
    "azure data factory v2": "Analytics",
    "cognitive services": "AI and Machine Learning",
    "azure openai": "AI and Machine Learning",
    "machine learning": "AI and Machine Learning",
}
_CATEGORY_BY_FAMILY: dict[str, str] = {
    "compute": "Compute",
    "storage": "Storage",
    "networking": "Networking",
    "databases": "Databases",
    "security": "Security",
    "analytics": "Analytics",
    "ai + machine learning": "AI and Machine Learning",
    "integration": "Integration",
    "management and governance": "Management and Governance",
    "internet of things": "Internet of Things",
    "web": "Web",
    "developer tools": "Developer Tools",
}


def meter_service_category(meter_category: str | None) -> str | None:
    """The FOCUS ServiceCategory of a known MeterCategory, else None (then ServiceFamily decides)."""
    return _CATEGORY_BY_METER.get(meter_category.strip().lower()) if meter_category else None


def service_category(meter_category: str | None, service_family: str | None = None) -> str:
    """FOCUS ServiceCategory from MeterCategory, falling back to ServiceFamily, else Other."""
    cat = meter_service_category(meter_category)
    if cat:
        return cat
    if service_family:
        cat = _CATEGORY_BY_FAMILY.get(service_family.strip().lower())
        if cat:
            return cat
    return "Other"
