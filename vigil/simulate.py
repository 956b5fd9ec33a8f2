"""A seeded simulator that writes a whole tenant folder in Azure's own formats.

``simulate(out_dir)`` writes ``resources/``, ``metrics/``, ``exports/``, ``events/``,
``activity/`` and ``tenant.json`` (see docs/tenant-layout.md): 3 subscriptions,
about 50 resources, 90 days of daily costs ending at ``now`` and 30 days of hourly
VM metrics. Costs are written twice over, per subscription scope: the two
production/data-science subscriptions as an EA actual-cost export (the 55 legacy
EA columns, UTF-8 with BOM, ``MM/dd/yyyy``, gzip-compressed parts) and the dev/test
subscription as a FOCUS 1.0 export; every run has a manifest.json
(manifestVersion 2024-04-01) with partitioned parts. Scoping by subscription
means no cost is exported twice.

Three planted problems (their ids are listed in ``tenant.json`` under ``planted``):

* ``cost_spike``: a GPU VM that ran ~5 h/day runs 24 h/day on the last two days
  (its daily cost jumps ~5x; it is the top contributor of the spike);
* ``idle_vm``: a running VM whose CPU has stayed below 1 % for the last 14 days
  with almost no outbound network;
* ``drift``: an Azure ML workspace written with ``publicNetworkAccess: Enabled``,
  delivered as a ``Microsoft.Resources.ResourceWriteSuccess`` Event Grid event
  (with claims name/upn and correlationId), its ARM GET in ``resources/`` showing
  the public access and the matching Activity Log entry in ``activity/``.

The same seed and ``now`` give byte-identical output.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_NOW", "DEFAULT_SEED", "EA_COLUMNS", "FOCUS_COLUMNS", "SimResult", "simulate"]

DEFAULT_SEED = 7
DEFAULT_NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
COST_DAYS = 90
METRIC_DAYS = 30
ROWS_PER_PART = 400

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

# Production and data science bill through an EA enrollment; dev/test through an MCA billing profile.
_BILLING_ACCOUNT = "71234567"
_BILLING_ACCOUNT_NAME = "Contoso Ltd (simulated)"
_MCA_ACCOUNT = "5e98e158-xxxx-4cd0-9d49-3d1ab1f7a7c4:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d_2019-05-31".replace(
    "xxxx", "6b0f"
)
_MCA_PROFILE = "AW4F-XYZ1-BG7-TGB"
_MCA_NAME = "Contoso Dev-Test (simulated)"
_EXPORT_SCOPES = {
    "ea": f"/providers/Microsoft.Billing/billingAccounts/{_BILLING_ACCOUNT}",
    "focus": f"/providers/Microsoft.Billing/billingAccounts/{_MCA_ACCOUNT}/billingProfiles/{_MCA_PROFILE}",
}
_EXPORT_NAMES = {"ea": "ea-actual-daily", "focus": "focus-daily"}
_TENANT_ID = "72f988bf-0000-4000-8000-00000000cafe"
_REGION_NAMES = {"eastus": "East US", "westeurope": "West Europe", "eastus2": "East US 2"}
_METER_REGIONS = {"eastus": "US East", "westeurope": "EU West", "eastus2": "US East 2"}

# Pay-as-you-go hourly prices (USD) of the sizes used.
_VM_PRICES = {
    "Standard_B2s": 0.0416,
    "Standard_D2s_v3": 0.096,
    "Standard_D4s_v3": 0.192,
    "Standard_E4s_v3": 0.252,
    "Standard_NC6s_v3": 3.06,
    "Standard_DS3_v2": 0.229,
}
_VM_CORES = {
    "Standard_B2s": 2,
    "Standard_D2s_v3": 2,
    "Standard_D4s_v3": 4,
    "Standard_E4s_v3": 4,
    "Standard_NC6s_v3": 6,
    "Standard_DS3_v2": 4,
}


# ----------------------------------------------------------------------------- model


@dataclass
class Sub:
    id: str
    name: str
    export: str  # "ea" or "focus"


@dataclass
class Res:
    """A simulated resource: its ARM JSON plus what drives its cost and metrics."""

    sub: Sub
    rg: str
    type: str  # ARM type, proper case
    name: str
    location: str
    arm: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    meter: dict[str, Any] | None = None  # cost meter; None = no direct cost
    profile: str = "none"  # metrics/usage profile: normal, idle, spike, dev, off, none

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.sub.id}/resourceGroups/{self.rg}/providers/{self.type.split('/')[0]}/" + "/".join(
            _interleave(self.type.split("/")[1:], self.name.split("/"))
        )


def _interleave(types: list[str], names: list[str]) -> list[str]:
    out: list[str] = []
    for t, n in zip(types, names, strict=True):
        out += [t, n]
    return out


@dataclass(frozen=True)
class SimResult:
    root: Path
    now: datetime
    seed: int
    subscriptions: list[str]
    resources: int
    cost_rows: int
    export_runs: int
    metric_files: int
    events: int
    planted: dict[str, str]


# ----------------------------------------------------------------------------- helpers


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso7(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"


def _dump(path: Path, doc: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    path.write_bytes(data)
    return len(data)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _fmt_money(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".") if x else "0"


# ----------------------------------------------------------------------------- resources


class _Builder:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.res: list[Res] = []
        self.extensions: list[dict[str, Any]] = []  # diagnostic settings (not counted as resources)

    def add(self, r: Res) -> Res:
        r.arm = {"id": r.id, "name": r.name.split("/")[-1], "type": r.type, "location": r.location, **r.arm}
        if r.tags:
            r.arm["tags"] = dict(r.tags)
        self.res.append(r)
        return r

    def created(self, days_ago: int) -> dict[str, Any]:
        t = self.now - timedelta(days=days_ago, hours=self.rng.randint(0, 23))
        return {"createdAt": _iso7(t), "createdBy": "deploy@contoso.com", "createdByType": "User"}

    def vm(self, sub: Sub, rg: str, name: str, size: str, loc: str, profile: str, tags: dict[str, str]) -> Res:  # noqa: PLR0917 - builder helpers take ARM fields positionally
        running = profile != "off"
        disk_name = f"{name}_OsDisk_1_{self.rng.getrandbits(64):016x}"
        nic = f"/subscriptions/{sub.id}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{name}-nic"
        arm = {
            "properties": {
                "vmId": _uuid(self.rng),
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "0001-com-ubuntu-server-jammy",
                        "sku": "22_04-lts-gen2",
                        "version": "latest",
                    },
                    "osDisk": {
                        "osType": "Linux",
                        "name": disk_name,
                        "createOption": "FromImage",
                        "caching": "ReadWrite",
                        "managedDisk": {
                            "storageAccountType": "Premium_LRS",
                            "id": f"/subscriptions/{sub.id}/resourceGroups/{rg.upper()}/providers/"
                            f"Microsoft.Compute/disks/{disk_name}",
                        },
                        "diskSizeGB": 30,
                    },
                    "dataDisks": [],
                },
                "osProfile": {"computerName": name, "adminUsername": "azureuser"},
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
                "provisioningState": "Succeeded",
                "instanceView": {
                    "computerName": name,
                    "osName": "ubuntu",
                    "osVersion": "22.04",
                    "statuses": [
                        {
                            "code": "ProvisioningState/succeeded",
                            "level": "Info",
                            "displayStatus": "Provisioning succeeded",
                        },
                        {
                            "code": "PowerState/running" if running else "PowerState/deallocated",
                            "level": "Info",
                            "displayStatus": "VM running" if running else "VM deallocated",
                        },
                    ],
                },
                "timeCreated": _iso7(self.now - timedelta(days=120 + self.rng.randint(0, 200))),
            },
            "systemData": self.created(120),
        }
        vm = self.add(
            Res(
                sub,
                rg,
                "Microsoft.Compute/virtualMachines",
                name,
                loc,
                arm,
                tags,
                meter=_vm_meter(size, loc),
                profile=profile,
            )
        )
        self.disk(sub, rg, disk_name, loc, 30, "Premium_LRS", vm.id, tags)
        return vm

    def disk(  # noqa: PLR0917 - builder helpers take ARM fields positionally
        self, sub: Sub, rg: str, name: str, loc: str, size_gb: int, sku: str, owner: str | None, tags: dict[str, str]
    ) -> Res:
        tier = "P4" if size_gb <= 32 else "P10"
        arm = {
            "sku": {"name": sku, "tier": "Premium" if sku.startswith("Premium") else "Standard"},
            "properties": {
                "diskSizeGB": size_gb,
                "diskState": "Attached" if owner else "Unattached",
                "provisioningState": "Succeeded",
                "tier": tier,
                "timeCreated": _iso7(self.now - timedelta(days=150)),
                **({"managedBy": owner} if owner else {}),
            },
        }
        if owner:
            arm["managedBy"] = owner
        monthly = 5.28 if tier == "P4" else 19.71
        meter = {
            "category": "Storage",
            "subcategory": "Premium SSD Managed Disks",
            "name": f"{tier} LRS Disk",
            "product": f"Premium SSD Managed Disks - {tier} LRS - {_METER_REGIONS[loc]}",
            "unit": "1/Month",
            "price": monthly,
            "daily_qty": 1 / 30,
            "service": "Storage",
            "family": "Storage",
            "consumed": "Microsoft.Compute",
            "focus_service": "Storage Accounts",
            "focus_category": "Storage",
            "focus_type": "Disk",
        }
        return self.add(Res(sub, rg, "Microsoft.Compute/disks", name, loc, arm, tags, meter=meter, profile="flat"))

    def pip(self, sub: Sub, rg: str, name: str, loc: str, tags: dict[str, str]) -> Res:
        ip = f"20.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}"
        arm = {
            "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "provisioningState": "Succeeded",
                "ipAddress": ip,
                "publicIPAddressVersion": "IPv4",
                "publicIPAllocationMethod": "Static",
                "idleTimeoutInMinutes": 4,
            },
        }
        meter = {
            "category": "Virtual Network",
            "subcategory": "IP Addresses",
            "name": "Standard IPv4 Static Public IP",
            "product": "IP Addresses - Standard IPv4 Static Public IP",
            "unit": "1 Hour",
            "price": 0.005,
            "daily_qty": 24,
            "service": "Networking",
            "family": "Networking",
            "consumed": "Microsoft.Network",
            "focus_service": "Virtual Network",
            "focus_category": "Networking",
            "focus_type": "Public IP address",
        }
        return self.add(Res(sub, rg, "Microsoft.Network/publicIPAddresses", name, loc, arm, tags, meter, "flat"))

    def storage(self, sub: Sub, rg: str, name: str, loc: str, gb: float, tags: dict[str, str]) -> Res:  # noqa: PLR0917 - builder helpers take ARM fields positionally
        arm = {
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "kind": "StorageV2",
            "properties": {
                "provisioningState": "Succeeded",
                "accessTier": "Hot",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "minimumTlsVersion": "TLS1_2",
                "publicNetworkAccess": "Enabled",
                "supportsHttpsTrafficOnly": True,
                "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
                "creationTime": _iso7(self.now - timedelta(days=200)),
            },
        }
        meter = {
            "category": "Storage",
            "subcategory": "Tiered Block Blob",
            "name": "Hot LRS Data Stored",
            "product": f"Blob Storage - Hot - LRS - {_METER_REGIONS[loc]}",
            "unit": "1 GB/Month",
            "price": 0.0184,
            "daily_qty": gb / 30,
            "service": "Storage",
            "family": "Storage",
            "consumed": "Microsoft.Storage",
            "focus_service": "Storage Accounts",
            "focus_category": "Storage",
            "focus_type": "Storage account",
        }
        st = self.add(Res(sub, rg, "Microsoft.Storage/storageAccounts", name, loc, arm, tags, meter, "storage"))
        self.diagnostics(st)
        return st

    def workspace(  # noqa: PLR0917 - builder helpers take ARM fields positionally
        self, sub: Sub, rg: str, name: str, loc: str, storage: Res, public: bool, tags: dict[str, str]
    ) -> Res:
        base = f"/subscriptions/{sub.id}/resourceGroups/{rg}/providers"
        ws_id = f"{base}/Microsoft.MachineLearningServices/workspaces/{name}"
        # Every workspace is private-linked; the planted drift only flips publicNetworkAccess.
        pec: list[dict[str, Any]] = [
            {
                "id": f"{ws_id}/privateEndpointConnections/{name}-pe",
                "name": f"{name}-pe",
                "type": "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateEndpoint": {"id": f"{base}/Microsoft.Network/privateEndpoints/{name}-pe"},
                    "privateLinkServiceConnectionState": {
                        "status": "Approved",
                        "description": "Auto-Approved",
                        "actionsRequired": "None",
                    },
                },
            }
        ]
        uai = f"{base}/Microsoft.ManagedIdentity/userAssignedIdentities/id-{name}"
        arm = {
            "identity": {
                "type": "SystemAssigned,UserAssigned",
                "principalId": _uuid(self.rng),
                "tenantId": _TENANT_ID,
                "userAssignedIdentities": {uai: {"principalId": _uuid(self.rng), "clientId": _uuid(self.rng)}},
            },
            "sku": {"name": "Basic", "tier": "Basic"},
            "kind": "Default",
            "properties": {
                "friendlyName": name,
                "description": "",
                "storageAccount": storage.id,
                "keyVault": f"{base}/Microsoft.KeyVault/vaults/kv-{name}",
                "applicationInsights": f"{base}/microsoft.insights/components/appi-{name}",
                "containerRegistry": None,
                "discoveryUrl": f"https://{loc}.api.azureml.ms/discovery",
                "workspaceId": _uuid(self.rng),
                "encryption": {
                    "status": "Enabled",
                    "identity": {"userAssignedIdentity": uai},
                    "keyVaultProperties": {
                        "keyVaultArmId": f"{base}/Microsoft.KeyVault/vaults/kv-{name}",
                        "keyIdentifier": f"https://kv-{name}.vault.azure.net/keys/cmk/{self.rng.getrandbits(128):032x}",
                        "identityClientId": "",
                    },
                },
                "primaryUserAssignedIdentity": uai,
                "hbiWorkspace": False,
                "provisioningState": "Succeeded",
                "privateLinkCount": len(pec),
                "allowPublicAccessWhenBehindVnet": public,
                "publicNetworkAccess": "Enabled" if public else "Disabled",
                "privateEndpointConnections": pec,
                "v1LegacyMode": False,
                "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
            },
            "systemData": self.created(90),
        }
        ws = self.add(Res(sub, rg, "Microsoft.MachineLearningServices/workspaces", name, loc, arm, tags))
        self.diagnostics(ws)
        return ws

    def diagnostics(self, parent: Res) -> None:
        """A diagnostic setting sending the parent's logs to Log Analytics (an extension resource)."""
        law = (
            f"/subscriptions/{parent.sub.id}/resourceGroups/rg-monitoring/providers/"
            "Microsoft.OperationalInsights/workspaces/law-central"
        )
        self.extensions.append(
            {
                "id": f"{parent.id}/providers/Microsoft.Insights/diagnosticSettings/send-to-law",
                "type": "Microsoft.Insights/diagnosticSettings",
                "name": "send-to-law",
                "properties": {
                    "workspaceId": law,
                    "logs": [{"category": None, "categoryGroup": "allLogs", "enabled": True}],
                    "metrics": [{"category": "AllMetrics", "enabled": True}],
                    "logAnalyticsDestinationType": "Dedicated",
                },
            }
        )

    def compute(self, ws: Res, name: str, kind: str, size: str, profile: str, idle_shutdown: str | None) -> Res:  # noqa: PLR0917 - builder helpers take ARM fields positionally
        subnet = (
            f"/subscriptions/{ws.sub.id}/resourceGroups/{ws.rg}/providers/Microsoft.Network/virtualNetworks/"
            f"vnet-ml/subnets/snet-compute"
        )
        inner: dict[str, Any] = {"vmSize": size, "subnet": {"id": subnet}}
        if kind == "ComputeInstance":
            inner.update(
                {
                    "applicationSharingPolicy": "Personal",
                    "sshSettings": {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 4001},
                    "computeInstanceAuthorizationType": "personal",
                    "enableNodePublicIp": True,
                    "state": "Running" if profile != "off" else "Stopped",
                    "errors": None,
                }
            )
            if idle_shutdown:
                inner["idleTimeBeforeShutdown"] = idle_shutdown
        else:
            inner.update(
                {
                    "vmPriority": "Dedicated",
                    "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT120S"},
                    "enableNodePublicIp": True,
                    "isolatedNetwork": False,
                    "remoteLoginPortPublicAccess": "NotSpecified",
                    "allocationState": "Steady",
                    "currentNodeCount": 0,
                    "targetNodeCount": 0,
                }
            )
        arm = {
            "properties": {
                "computeType": kind,
                "computeLocation": ws.location,
                "description": "",
                "createdOn": _iso7(self.now - timedelta(days=60)),
                "modifiedOn": _iso7(self.now - timedelta(days=20)),
                "provisioningState": "Succeeded",
                "disableLocalAuth": True,
                "properties": inner,
            }
        }
        meter = _vm_meter(size, ws.location)
        meter.update(
            {
                "consumed": "Microsoft.MachineLearningServices",
                "focus_service": "Azure Machine Learning",
                "focus_category": "AI and Machine Learning",
                "focus_type": "Machine learning compute",
            }
        )
        r = Res(
            ws.sub,
            ws.rg,
            "Microsoft.MachineLearningServices/workspaces/computes",
            f"{ws.name}/{name}",
            ws.location,
            arm,
            ws.tags,
            meter=meter,
            profile=profile,
        )
        return self.add(r)


def _vm_meter(size: str, loc: str) -> dict[str, Any]:
    short = size.replace("Standard_", "").replace("_", " ")
    series = size.replace("Standard_", "").split("_")[0].rstrip("0123456789sv")
    return {
        "category": "Virtual Machines",
        "subcategory": f"{series} Series",
        "name": short,
        "product": f"Virtual Machines {series} Series - {short} - {_METER_REGIONS[loc]}",
        "unit": "1 Hour",
        "price": _VM_PRICES[size],
        "daily_qty": 24,
        "service": "Compute",
        "family": "Compute",
        "consumed": "Microsoft.Compute",
        "focus_service": "Virtual Machines",
        "focus_category": "Compute",
        "focus_type": "Virtual machine",
        "size": size,
    }


def _build_resources(
    rng: random.Random, now: datetime
) -> tuple[list[Sub], list[Res], dict[str, str], list[dict[str, Any]]]:
    subs = [
        Sub(_uuid(rng), "Contoso Production", "ea"),
        Sub(_uuid(rng), "Contoso Data Science", "ea"),
        Sub(_uuid(rng), "Contoso Dev-Test", "focus"),
    ]
    prod, ds, dev = subs
    b = _Builder(rng, now)

    def t(env: str, app: str, owner: str) -> dict[str, str]:
        return {"env": env, "app": app, "owner": owner, "costcenter": "CC-" + str(1000 + len(app) * 7)}

    # Production: web tier, batch GPU (the cost spike), a legacy app (the idle VM).
    for i in range(1, 4):
        b.vm(
            prod, "rg-web-prod", f"vm-web-{i:02d}", "Standard_D2s_v3", "eastus", "normal", t("prod", "web", "web-team")
        )
    b.pip(prod, "rg-web-prod", "pip-web-lb", "eastus", t("prod", "web", "web-team"))
    b.storage(
        prod, "rg-web-prod", "stwebprod" + f"{rng.getrandbits(24):06x}", "eastus", 800, t("prod", "web", "web-team")
    )
    spike = b.vm(
        prod, "rg-batch-prod", "vm-batch-gpu-01", "Standard_NC6s_v3", "eastus", "spike", t("prod", "batch", "data-eng")
    )
    b.storage(
        prod, "rg-batch-prod", "stbatch" + f"{rng.getrandbits(24):06x}", "eastus", 3000, t("prod", "batch", "data-eng")
    )
    idle = b.vm(
        prod, "rg-legacy", "vm-legacy-app-01", "Standard_D4s_v3", "eastus", "idle", t("prod", "legacy-crm", "it-ops")
    )
    b.pip(prod, "rg-legacy", "pip-legacy-app-01", "eastus", t("prod", "legacy-crm", "it-ops"))
    b.vm(prod, "rg-api-prod", "vm-api-01", "Standard_E4s_v3", "westeurope", "normal", t("prod", "api", "api-team"))
    b.vm(prod, "rg-api-prod", "vm-api-02", "Standard_E4s_v3", "westeurope", "normal", t("prod", "api", "api-team"))
    b.pip(prod, "rg-api-prod", "pip-api-gw", "westeurope", t("prod", "api", "api-team"))
    b.storage(
        prod, "rg-api-prod", "stapiprod" + f"{rng.getrandbits(24):06x}", "westeurope", 400, t("prod", "api", "api-team")
    )

    # Data science: two Azure ML workspaces (one is the drift), compute, an analytics VM.
    st_ml = b.storage(
        ds, "rg-ml-prod", "stmlprod" + f"{rng.getrandbits(24):06x}", "eastus2", 1500, t("prod", "ml", "ml-team")
    )
    ws_prod = b.workspace(ds, "rg-ml-prod", "mlw-forecast", "eastus2", st_ml, False, t("prod", "ml", "ml-team"))
    b.compute(ws_prod, "ci-alice", "ComputeInstance", "Standard_DS3_v2", "dev", "PT60M")
    b.compute(ws_prod, "cluster-train", "AmlCompute", "Standard_NC6s_v3", "batch", None)
    st_rs = b.storage(
        ds, "rg-ml-research", "stmlres" + f"{rng.getrandbits(24):06x}", "eastus2", 600, t("research", "ml", "research")
    )
    drift_ws = b.workspace(
        ds, "rg-ml-research", "mlw-research", "eastus2", st_rs, True, t("research", "ml", "research")
    )
    b.compute(drift_ws, "ci-bob", "ComputeInstance", "Standard_DS3_v2", "dev", None)
    b.vm(
        ds, "rg-analytics", "vm-analytics-01", "Standard_E4s_v3", "eastus2", "normal", t("prod", "analytics", "bi-team")
    )
    b.storage(
        ds,
        "rg-analytics",
        "stanalytics" + f"{rng.getrandbits(24):06x}",
        "eastus2",
        2200,
        t("prod", "analytics", "bi-team"),
    )
    b.disk(
        ds,
        "rg-analytics",
        "disk-analytics-scratch",
        "eastus2",
        128,
        "Premium_LRS",
        None,
        t("prod", "analytics", "bi-team"),
    )

    # Dev/test: small VMs (two deallocated), a sandbox workspace.
    for i in range(1, 7):
        profile = "off" if i in (5, 6) else "dev"
        b.vm(dev, "rg-dev", f"vm-dev-{i:02d}", "Standard_B2s", "westeurope", profile, t("dev", "sandbox", f"dev{i}"))
    b.pip(dev, "rg-dev", "pip-dev-bastion", "westeurope", t("dev", "sandbox", "platform"))
    b.storage(
        dev, "rg-dev", "stdevshared" + f"{rng.getrandbits(24):06x}", "westeurope", 250, t("dev", "sandbox", "platform")
    )
    st_sb = b.storage(
        dev, "rg-ml-sandbox", "stmlsbx" + f"{rng.getrandbits(24):06x}", "westeurope", 120, t("dev", "ml", "ml-team")
    )
    ws_sb = b.workspace(dev, "rg-ml-sandbox", "mlw-sandbox", "westeurope", st_sb, False, t("dev", "ml", "ml-team"))
    b.compute(ws_sb, "ci-dev", "ComputeInstance", "Standard_DS3_v2", "dev", "PT30M")

    planted = {"cost_spike": spike.id, "idle_vm": idle.id, "drift_workspace": drift_ws.id}
    return subs, b.res, planted, b.extensions


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


def _cpu(r: Res, hour: datetime, start_idle: datetime, last_day_start: datetime, rng: random.Random) -> float | None:
    """Average CPU of one hour, or None when the machine was not running."""
    p = r.profile
    h = hour.hour
    diurnal = 0.5 + 0.5 * math.sin((h - 8) / 24 * 2 * math.pi)
    if p == "off":
        return None
    if p == "idle":
        if hour >= start_idle:
            return round(rng.uniform(0.15, 0.75), 4)
        return round(12 + 25 * diurnal + rng.uniform(-3, 3), 4)
    if p == "spike":
        if hour >= last_day_start - timedelta(days=1):
            return round(rng.uniform(88, 99), 4)
        return round(rng.uniform(70, 95), 4) if 1 <= h < 6 else None
    if p == "dev":
        if hour.weekday() >= 5 or not 8 <= h < 19:
            return None
        return round(rng.uniform(4, 35), 4)
    return round(15 + 40 * diurnal + rng.uniform(-4, 4), 4)


# ----------------------------------------------------------------------------- writers


def _write_resources(root: Path, res: list[Res], extensions: list[dict[str, Any]]) -> None:
    for r in res:
        safe = r.name.replace("/", "__")
        _dump(root / "resources" / r.sub.id / r.rg / f"{r.type.split('/')[-1].lower()}--{safe}.json", r.arm)
    for ext in extensions:
        parts = ext["id"].split("/")
        parent = ext["id"].split("/providers/Microsoft.Insights/")[0].rsplit("/", 1)[-1]
        _dump(root / "resources" / parts[2] / parts[4] / f"diagnosticsettings--{parent}.json", ext)


def _metrics_doc(r: Res, hours: list[datetime], cpu: list[float | None], rng: random.Random) -> dict[str, Any]:
    cpu_points: list[dict[str, Any]] = []
    net_points: list[dict[str, Any]] = []
    for hr, c in zip(hours, cpu, strict=True):
        ts = _iso(hr)
        if c is None:
            cpu_points.append({"timeStamp": ts})
            net_points.append({"timeStamp": ts})
            continue
        peak = min(100.0, c * rng.uniform(1.3, 2.2)) if c > 1 else c * rng.uniform(1.5, 2.5)
        cpu_points.append({"timeStamp": ts, "average": c, "maximum": round(peak, 4)})
        if r.profile == "idle" and c < 1:
            net = rng.uniform(0.2e6, 1.5e6)  # heartbeat traffic only
        else:
            net = rng.uniform(40e6, 600e6) * (0.3 + c / 100)
        net_points.append({"timeStamp": ts, "total": round(net, 1)})
    start, end = hours[0], hours[-1] + timedelta(hours=1)
    rid = r.id
    return {
        "cost": 0,
        "timespan": f"{_iso(start)}/{_iso(end)}",
        "interval": "PT1H",
        "value": [
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/Percentage CPU",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
                "displayDescription": "The percentage of allocated compute units that are currently in use.",
                "unit": "Percent",
                "timeseries": [{"metadatavalues": [], "data": cpu_points}],
                "errorCode": "Success",
            },
            {
                "id": f"{rid}/providers/Microsoft.Insights/metrics/Network Out Total",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Network Out Total", "localizedValue": "Network Out Total"},
                "displayDescription": "The number of bytes out on all network interfaces by the Virtual Machine(s).",
                "unit": "Bytes",
                "timeseries": [{"metadatavalues": [], "data": net_points}],
                "errorCode": "Success",
            },
        ],
        "namespace": r.type,
        "resourceregion": r.location,
    }


def _write_metrics(root: Path, res: list[Res], now: datetime, rng: random.Random, tick: Callable[[], None]) -> int:
    start = now - timedelta(days=METRIC_DAYS)
    hours = [start + timedelta(hours=i) for i in range(METRIC_DAYS * 24)]
    start_idle = now - timedelta(days=14)
    last_day_start = now - timedelta(days=1)
    count = 0
    for r in res:
        if r.type != "Microsoft.Compute/virtualMachines":
            continue
        cpu = [_cpu(r, h, start_idle, last_day_start, rng) for h in hours]
        doc = _metrics_doc(r, hours, cpu, rng)
        _dump(root / "metrics" / r.sub.id / r.rg / f"{r.name}.json", doc)
        count += 1
        tick()
    return count


@dataclass
class _Row:
    day: date
    res: Res
    qty: float
    cost: float


def _cost_rows(res: list[Res], now: datetime, rng: random.Random) -> list[_Row]:
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


def _ea_record(row: _Row, part_number: str, meter_id: str) -> dict[str, str]:
    r, m, d = row.res, row.res.meter or {}, row.day
    ps, pe = _month_start(d), _next_month(d) - timedelta(days=1)
    info = ""
    if "size" in m:
        info = json.dumps({"ServiceType": m["size"], "VCPUs": _VM_CORES.get(m["size"], 0)})
    return {
        "BillingAccountId": _BILLING_ACCOUNT,
        "BillingAccountName": _BILLING_ACCOUNT_NAME,
        "BillingPeriodStartDate": ps.strftime("%m/%d/%Y"),
        "BillingPeriodEndDate": pe.strftime("%m/%d/%Y"),
        "BillingProfileId": _BILLING_ACCOUNT,
        "BillingProfileName": _BILLING_ACCOUNT_NAME,
        "AccountOwnerId": "finops@contoso.com",
        "AccountName": "Contoso Cloud",
        "SubscriptionId": r.sub.id,
        "SubscriptionName": r.sub.name,
        "Date": d.strftime("%m/%d/%Y"),
        "Product": m["product"],
        "PartNumber": part_number,
        "MeterId": meter_id,
        "ServiceFamily": m["family"],
        "MeterCategory": m["category"],
        "MeterSubCategory": m["subcategory"],
        "MeterRegion": _METER_REGIONS[r.location],
        "MeterName": m["name"],
        "Quantity": _fmt_money(row.qty),
        "EffectivePrice": _fmt_money(m["price"]),
        "Cost": _fmt_money(row.cost),
        "UnitPrice": _fmt_money(m["price"]),
        "BillingCurrency": "USD",
        "ResourceLocation": r.location,
        "AvailabilityZone": "",
        "ConsumedService": m["consumed"],
        "ResourceId": r.id,
        "ResourceName": r.name.split("/")[-1],
        "ServiceInfo1": "",
        "ServiceInfo2": "",
        "AdditionalInfo": info,
        "Tags": _tags_ea(r.tags),
        "InvoiceSectionId": "IS-100",
        "InvoiceSection": "Cloud Platform",
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
        "PayGPrice": _fmt_money(m["price"]),
        "PricingModel": "OnDemand",
        "CostAllocationRuleName": "",
        "benefitId": "",
        "benefitName": "",
    }


def _focus_record(row: _Row, part_number: str, meter_id: str) -> dict[str, str]:
    r, m, d = row.res, row.res.meter or {}, row.day
    ps, pe = _month_start(d), _next_month(d)
    day_iso = d.strftime("%Y-%m-%dT00:00:00Z")
    rec = dict.fromkeys(FOCUS_COLUMNS, "")
    cost = _fmt_money(row.cost)
    rec.update(
        {
            "BilledCost": cost,
            "BillingAccountId": _EXPORT_SCOPES["focus"],
            "BillingAccountName": _MCA_NAME,
            "BillingAccountType": "Billing Account",
            "BillingCurrency": "USD",
            "BillingPeriodEnd": pe.strftime("%Y-%m-%dT00:00:00Z"),
            "BillingPeriodStart": ps.strftime("%Y-%m-%dT00:00:00Z"),
            "ChargeCategory": "Usage",
            "ChargeDescription": m["product"],
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": (d + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z"),
            "ChargePeriodStart": day_iso,
            "ConsumedQuantity": _fmt_money(row.qty),
            "ConsumedUnit": m["unit"].split(" ", 1)[-1] if " " in m["unit"] else m["unit"],
            "ContractedCost": cost,
            "ContractedUnitPrice": _fmt_money(m["price"]),
            "EffectiveCost": cost,
            "InvoiceIssuerName": "Microsoft",
            "ListCost": cost,
            "ListUnitPrice": _fmt_money(m["price"]),
            "PricingCategory": "Standard",
            "PricingQuantity": _fmt_money(row.qty),
            "PricingUnit": m["unit"],
            "ProviderName": "Microsoft",
            "PublisherName": "Microsoft",
            "RegionId": r.location,
            "RegionName": _REGION_NAMES[r.location],
            "ResourceId": r.id.lower(),
            "ResourceName": r.name.split("/")[-1],
            "ResourceType": m["focus_type"],
            "ServiceCategory": m["focus_category"],
            "ServiceName": m["focus_service"],
            "SkuId": part_number,
            "SkuPriceId": f"{part_number}_{meter_id[:8]}",
            "SubAccountId": f"/subscriptions/{r.sub.id}",
            "SubAccountName": r.sub.name,
            "SubAccountType": "Subscription",
            "Tags": json.dumps(r.tags),
            "x_AccountName": "Contoso Cloud",
            "x_AccountOwnerId": "finops@contoso.com",
            "x_BilledCostInUsd": cost,
            "x_BilledUnitPrice": _fmt_money(m["price"]),
            "x_BillingAccountId": _MCA_ACCOUNT,
            "x_BillingAccountName": _MCA_NAME,
            "x_BillingExchangeRate": "1",
            "x_BillingExchangeRateDate": ps.strftime("%Y-%m-%dT00:00:00Z"),
            "x_BillingProfileId": _BILLING_ACCOUNT,
            "x_BillingProfileName": _BILLING_ACCOUNT_NAME,
            "x_ContractedCostInUsd": cost,
            "x_CostCenter": r.tags.get("costcenter", ""),
            "x_EffectiveCostInUsd": cost,
            "x_EffectiveUnitPrice": _fmt_money(m["price"]),
            "x_InvoiceSectionId": "IS-100",
            "x_InvoiceSectionName": "Cloud Platform",
            "x_ListCostInUsd": cost,
            "x_PricingBlockSize": "1",
            "x_PricingCurrency": "USD",
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
            "x_SkuRegion": _METER_REGIONS[r.location],
            "x_SkuServiceFamily": m["family"],
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


def _write_exports(root: Path, subs: list[Sub], rows: list[_Row], now: datetime, rng: random.Random) -> tuple[int, int]:
    meters: dict[str, tuple[str, str]] = {}

    def meter_ids(r: Res) -> tuple[str, str]:
        key = (r.meter or {}).get("product", "")
        if key not in meters:
            meters[key] = (f"AAA-{rng.randint(10000, 99999)}", _uuid(rng))
        return meters[key]

    container = (
        "/subscriptions/{sub}/resourceGroups/rg-finops/providers/Microsoft.Storage/storageAccounts/stfinopsexports"
    )
    root_folder = "costexports"
    runs = 0
    total_rows = 0
    for kind in ("ea", "focus"):
        sub_rows = [r for r in rows if r.res.sub.export == kind]
        months = sorted({_month_start(r.day) for r in sub_rows})
        export_name = _EXPORT_NAMES[kind]
        for month in months:
            month_rows = [r for r in sub_rows if _month_start(r.day) == month]
            month_end = _next_month(month) - timedelta(days=1)
            folder_range = f"{month:%Y%m%d}-{month_end:%Y%m%d}"
            run_id = _uuid(rng)
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
                    recs = [_ea_record(r, *meter_ids(r.res)) for r in chunk]
                    data = _gzip(_csv_bytes(EA_COLUMNS, recs, bom=True))
                    name = f"part_0_{pi + 1:04d}.csv.gz"
                else:
                    recs = [_focus_record(r, *meter_ids(r.res)) for r in chunk]
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
                    "resourceId": f"{_EXPORT_SCOPES[kind]}/providers/Microsoft.CostManagement/exports/{export_name}",
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
                    "submittedTime": _iso7(submitted),
                    "runId": run_id,
                    "startDate": f"{month:%Y-%m-%d}T00:00:00",
                    "endDate": f"{min(month_end, now.date() - timedelta(days=1)):%Y-%m-%d}T00:00:00",
                },
                "blobs": blobs,
            }
            _dump(root / "exports" / rel_dir / "manifest.json", manifest)
            runs += 1
            total_rows += len(month_rows)
    return runs, total_rows


# ----------------------------------------------------------------------------- events and activity


_PEOPLE = [
    ("Dana Whitfield", "dana.whitfield@contoso.com"),
    ("Ravi Menon", "ravi.menon@contoso.com"),
    ("Lena Okafor", "lena.okafor@contoso.com"),
]


def _claims(rng: random.Random, who: tuple[str, str], when: datetime) -> dict[str, str]:
    name, upn = who
    given, _, surname = name.partition(" ")
    iat = int(when.timestamp()) - 600
    oid = _uuid(rng)
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{_TENANT_ID}/",
        "iat": str(iat),
        "nbf": str(iat),
        "exp": str(iat + 3900),
        "http://schemas.microsoft.com/claims/authnclassreference": "1",
        "aio": "E2ZgYJj" + f"{rng.getrandbits(64):x}",
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
        "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "appidacr": "2",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": surname,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": given,
        "ipaddr": f"203.0.113.{rng.randint(2, 250)}",
        "name": name,
        "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
        "puid": f"{rng.getrandbits(64):016X}",
        "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": f"{rng.getrandbits(128):032x}",
        "http://schemas.microsoft.com/identity/claims/tenantid": _TENANT_ID,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
        "uti": f"{rng.getrandbits(96):x}",
        "ver": "1.0",
    }


@dataclass
class _Op:
    when: datetime
    kind: str  # Write, Delete, Action
    resource_id: str
    rtype: str
    operation: str
    who: tuple[str, str]


def _event(op: _Op, sub_id: str, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    corr = _uuid(rng)
    claims = _claims(rng, op.who, op.when)
    rp = op.rtype.split("/")[0]
    rg = op.resource_id.split("/")[4]
    method = {"Write": "PUT", "Delete": "DELETE", "Action": "POST"}[op.kind]
    client_request_id = _uuid(rng)
    event: dict[str, Any] = {
        "subject": op.resource_id,
        "eventType": f"Microsoft.Resources.Resource{op.kind}Success",
        "eventTime": _iso7(op.when),
        "id": _uuid(rng),
        "data": {
            "authorization": {
                "scope": op.resource_id,
                "action": op.operation,
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": f"/subscriptions/{sub_id}",
                    "roleAssignmentId": f"{rng.getrandbits(128):032x}",
                    "roleDefinitionId": "b24988ac618042a0ab8820f7382dd24c",
                    "principalId": claims["http://schemas.microsoft.com/identity/claims/objectidentifier"],
                    "principalType": "User",
                },
            },
            "claims": claims,
            "correlationId": corr,
            "httpRequest": {
                "clientRequestId": client_request_id,
                "clientIpAddress": claims["ipaddr"],
                "method": method,
                "url": f"https://management.azure.com{op.resource_id}?api-version=2025-09-01",
            },
            "resourceProvider": rp,
            "resourceUri": op.resource_id,
            "operationName": op.operation,
            "status": "Succeeded",
            "subscriptionId": sub_id,
            "tenantId": _TENANT_ID,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{sub_id}",
    }
    ticks = int(op.when.timestamp() * 10_000_000) + 621355968000000000  # .NET ticks, as the API writes them
    activity = {
        "authorization": {"action": op.operation, "role": "Contributor", "scope": op.resource_id},
        "caller": op.who[1],
        "channels": "Operation",
        "claims": claims,
        "correlationId": corr,
        "description": "",
        "eventDataId": _uuid(rng),
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "httpRequest": {
            "clientRequestId": client_request_id,
            "clientIpAddress": claims["ipaddr"],
            "method": method,
        },
        "id": f"{op.resource_id}/events/{_uuid(rng)}/ticks/{ticks}",
        "level": "Informational",
        "resourceGroupName": rg,
        "resourceProviderName": {"value": rp, "localizedValue": rp},
        "resourceId": op.resource_id,
        "resourceType": {"value": op.rtype, "localizedValue": op.rtype},
        "operationId": corr,
        "operationName": {"value": op.operation, "localizedValue": op.operation},
        "properties": {"statusCode": "OK" if op.kind != "Write" else "Created"},
        "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
        "subStatus": {"value": "OK", "localizedValue": "OK (HTTP Status Code: 200)"},
        "eventTimestamp": _iso7(op.when),
        "submissionTimestamp": _iso7(op.when + timedelta(seconds=rng.randint(5, 40))),
        "subscriptionId": sub_id,
        "tenantId": _TENANT_ID,
    }
    return event, activity


def _write_events(  # noqa: PLR0917 - private writer; every argument is required
    root: Path, subs: list[Sub], res: list[Res], now: datetime, rng: random.Random, planted: dict[str, str]
) -> int:
    by_id = {r.id: r for r in res}
    ops: list[_Op] = []
    # Background changes: storage, VMs, compliant workspace edits.
    for r in res:
        if r.type == "Microsoft.Storage/storageAccounts" and rng.random() < 0.5:
            ops.append(
                _Op(
                    now - timedelta(hours=rng.randint(6, 70)),
                    "Write",
                    r.id,
                    r.type,
                    f"{r.type}/write",
                    rng.choice(_PEOPLE),
                )
            )
        if r.type == "Microsoft.Compute/virtualMachines" and r.profile == "dev" and rng.random() < 0.5:
            ops.append(
                _Op(
                    now - timedelta(hours=rng.randint(6, 70)),
                    "Action",
                    r.id,
                    r.type,
                    f"{r.type}/start/action",
                    rng.choice(_PEOPLE),
                )
            )
    spike = by_id[planted["cost_spike"]]
    ops.append(
        _Op(now - timedelta(days=2, hours=-1), "Action", spike.id, spike.type, f"{spike.type}/start/action", _PEOPLE[1])
    )
    ws_ok = next(r for r in res if r.name == "mlw-forecast")
    ops.append(_Op(now - timedelta(hours=20), "Write", ws_ok.id, ws_ok.type, f"{ws_ok.type}/write", _PEOPLE[2]))
    gone = f"/subscriptions/{subs[2].id}/resourceGroups/rg-dev/providers/Microsoft.Compute/disks/vm-dev-99_OsDisk_1_old"
    ops.append(
        _Op(
            now - timedelta(hours=30),
            "Delete",
            gone,
            "Microsoft.Compute/disks",
            "Microsoft.Compute/disks/delete",
            _PEOPLE[0],
        )
    )
    drift = by_id[planted["drift_workspace"]]
    ops.append(
        _Op(now - timedelta(hours=3, minutes=17), "Write", drift.id, drift.type, f"{drift.type}/write", _PEOPLE[0])
    )
    # The drifted workspace's ARM GET shows who changed it and when.
    drift.arm["systemData"].update(
        {"lastModifiedAt": _iso7(ops[-1].when), "lastModifiedBy": _PEOPLE[0][1], "lastModifiedByType": "User"}
    )
    ops.sort(key=lambda o: (o.when, o.resource_id))
    by_day: dict[str, list[dict[str, Any]]] = {}
    activity: dict[str, list[dict[str, Any]]] = {}
    sub_of = {s.id: s for s in subs}
    for op in ops:
        sub_id = op.resource_id.split("/")[2]
        ev, act = _event(op, sub_of[sub_id].id, rng)
        by_day.setdefault(op.when.strftime("%Y%m%d"), []).append(ev)
        activity.setdefault(sub_id, []).append(act)
    for day, evs in sorted(by_day.items()):
        _dump(root / "events" / f"{day}.json", evs)
    for sub_id, acts in activity.items():
        acts.sort(key=lambda a: a["eventTimestamp"], reverse=True)  # the API returns newest first
        _dump(root / "activity" / f"{sub_id}.json", {"value": acts})
    return len(ops)


# ----------------------------------------------------------------------------- entry point


def simulate(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime = DEFAULT_NOW,
    progress: bool = False,
) -> SimResult:
    """Write a simulated tenant folder into ``out_dir`` (created; must be empty or absent)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: not empty; refusing to overwrite a tenant folder")
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    subs, res, planted, extensions = _build_resources(rng, now)
    vms = sum(1 for r in res if r.type == "Microsoft.Compute/virtualMachines")

    with _progress(progress) as step:
        advance = step("metrics (hourly CPU and network)", vms)
        metric_files = _write_metrics(root, res, now, random.Random(seed * 7919 + 1), advance)
        step("cost exports (EA actual + FOCUS 1.0)", 1)
        rows = _cost_rows(res, now, random.Random(seed * 7919 + 2))
        runs, cost_rows = _write_exports(root, subs, rows, now, random.Random(seed * 7919 + 3))
        step("events and activity log", 1)
        events = _write_events(root, subs, res, now, random.Random(seed * 7919 + 4), planted)
        step("resources (ARM JSON)", 1)
        _write_resources(root, res, extensions)
        _dump(
            root / "tenant.json",
            {
                "generator": "vigil.simulate",
                "seed": seed,
                "now": _iso(now),
                "cost_days": COST_DAYS,
                "metric_days": METRIC_DAYS,
                "subscriptions": [
                    {"subscriptionId": s.id, "displayName": s.name, "costExport": s.export} for s in subs
                ],
                "planted": planted,
            },
        )
    return SimResult(
        root=root,
        now=now,
        seed=seed,
        subscriptions=[s.id for s in subs],
        resources=len(res),
        cost_rows=cost_rows,
        export_runs=runs,
        metric_files=metric_files,
        events=events,
        planted=planted,
    )


class _progress:
    """A rich progress display on stderr (or nothing). ``step(label, total)`` starts a task
    and returns a callable that advances it; the previous task is completed."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int], Callable[[], None]]:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("simulate: {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self._step

    def _finish(self) -> None:
        if self._progress is not None and self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, completed=task.total)

    def _step(self, label: str, total: int) -> Callable[[], None]:
        if self._progress is None:
            return lambda: None
        self._finish()
        self._task = self._progress.add_task(label, total=max(total, 1))
        task_id = self._task
        prog = self._progress
        return lambda: prog.advance(task_id)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._finish()
            self._progress.stop()


def iter_planted(result: SimResult) -> Iterator[tuple[str, str]]:
    yield from sorted(result.planted.items())
