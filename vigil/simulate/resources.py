"""Simulated ARM resources: VMs, disks, public IPs, storage, Azure ML workspaces and computes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.simulate.model import METER_REGIONS, TENANT_ID, VM_PRICES, Res, Sub, dump, iso7, new_uuid

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
        return {"createdAt": iso7(t), "createdBy": "deploy@contoso.com", "createdByType": "User"}

    def vm(self, sub: Sub, rg: str, name: str, size: str, loc: str, profile: str, tags: dict[str, str]) -> Res:  # noqa: PLR0917 - builder helpers take ARM fields positionally
        running = profile != "off"
        disk_name = f"{name}_OsDisk_1_{self.rng.getrandbits(64):016x}"
        nic = f"/subscriptions/{sub.id}/resourceGroups/{rg}/providers/Microsoft.Network/networkInterfaces/{name}-nic"
        arm = {
            "properties": {
                "vmId": new_uuid(self.rng),
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
                "timeCreated": iso7(self.now - timedelta(days=120 + self.rng.randint(0, 200))),
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
                "timeCreated": iso7(self.now - timedelta(days=150)),
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
            "product": f"Premium SSD Managed Disks - {tier} LRS - {METER_REGIONS[loc]}",
            "unit": "1/Month",
            "price": monthly,
            "daily_qty": 1 / 30,
            "service": "Storage",
            "family": "Storage",
            "consumed": "Microsoft.Compute",
            "focus_service": "Virtual Machines",  # as Microsoft's FOCUS export (FinOps toolkit Services.csv)
            "focus_category": "Storage",
            "focus_type": "Disk",
        }
        return self.add(Res(sub, rg, "Microsoft.Compute/disks", name, loc, arm, tags, meter=meter, profile="flat"))

    def pip(self, sub: Sub, rg: str, name: str, loc: str, tags: dict[str, str], *, attached_to: str) -> Res:
        """A Standard static public IP, associated with ``attached_to`` (provider path of an ipConfiguration)."""
        ip = f"20.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}.{self.rng.randint(1, 250)}"
        ipconf = f"/subscriptions/{sub.id}/resourceGroups/{rg}/providers/{attached_to}"
        arm = {
            "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "provisioningState": "Succeeded",
                "ipAddress": ip,
                "publicIPAddressVersion": "IPv4",
                "publicIPAllocationMethod": "Static",
                "idleTimeoutInMinutes": 4,
                "ipConfiguration": {"id": ipconf},
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
                "networkAcls": {
                    "bypass": "AzureServices",
                    "virtualNetworkRules": [],
                    "ipRules": [],
                    "defaultAction": "Deny",
                },
                "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
                "creationTime": iso7(self.now - timedelta(days=200)),
            },
        }
        meter = {
            "category": "Storage",
            "subcategory": "Tiered Block Blob",
            "name": "Hot LRS Data Stored",
            "product": f"Blob Storage - Hot - LRS - {METER_REGIONS[loc]}",
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
                "principalId": new_uuid(self.rng),
                "tenantId": TENANT_ID,
                "userAssignedIdentities": {uai: {"principalId": new_uuid(self.rng), "clientId": new_uuid(self.rng)}},
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
                "workspaceId": new_uuid(self.rng),
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
                "createdOn": iso7(self.now - timedelta(days=60)),
                "modifiedOn": iso7(self.now - timedelta(days=20)),
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
        "product": f"Virtual Machines {series} Series - {short} - {METER_REGIONS[loc]}",
        "unit": "1 Hour",
        "price": VM_PRICES[size],
        "daily_qty": 24,
        "service": "Compute",
        "family": "Compute",
        "consumed": "Microsoft.Compute",
        "focus_service": "Virtual Machines",
        "focus_category": "Compute",
        "focus_type": "Virtual machine",
        "size": size,
    }


def build_resources(
    rng: random.Random, now: datetime
) -> tuple[list[Sub], list[Res], dict[str, str], list[dict[str, Any]]]:
    subs = [
        Sub(new_uuid(rng), "Contoso Production", "ea"),
        Sub(new_uuid(rng), "Contoso Data Science", "ea"),
        Sub(new_uuid(rng), "Contoso Dev-Test", "focus"),
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
    b.pip(
        prod,
        "rg-web-prod",
        "pip-web-lb",
        "eastus",
        t("prod", "web", "web-team"),
        attached_to="Microsoft.Network/loadBalancers/lb-web/frontendIPConfigurations/fe-public",
    )
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
    b.pip(
        prod,
        "rg-legacy",
        "pip-legacy-app-01",
        "eastus",
        t("prod", "legacy-crm", "it-ops"),
        attached_to="Microsoft.Network/networkInterfaces/vm-legacy-app-01-nic/ipConfigurations/ipconfig1",
    )
    b.vm(prod, "rg-api-prod", "vm-api-01", "Standard_E4s_v3", "westeurope", "normal", t("prod", "api", "api-team"))
    b.vm(prod, "rg-api-prod", "vm-api-02", "Standard_E4s_v3", "westeurope", "normal", t("prod", "api", "api-team"))
    b.pip(
        prod,
        "rg-api-prod",
        "pip-api-gw",
        "westeurope",
        t("prod", "api", "api-team"),
        attached_to="Microsoft.Network/applicationGateways/agw-api/frontendIPConfigurations/appGwPublicFrontendIp",
    )
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
    # The planted idle ML compute instance: a GPU instance left running with idle shutdown
    # configured, which never triggers because a notebook kernel stays open (idle shutdown
    # counts sessions, not utilisation): CPU and GPU sit near zero around the clock.
    idle_ml = b.compute(ws_prod, "ci-gpu-carol", "ComputeInstance", "Standard_NC6s_v3", "idle", "PT60M")
    st_rs = b.storage(
        ds, "rg-ml-research", "stmlres" + f"{rng.getrandbits(24):06x}", "eastus2", 600, t("research", "ml", "research")
    )
    drift_ws = b.workspace(
        ds, "rg-ml-research", "mlw-research", "eastus2", st_rs, True, t("research", "ml", "research")
    )
    b.compute(drift_ws, "ci-bob", "ComputeInstance", "Standard_DS3_v2", "dev", None)
    analytics = b.vm(
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
    scratch = b.disk(
        ds,
        "rg-analytics",
        "disk-analytics-scratch",
        "eastus2",
        128,
        "Premium_LRS",
        analytics.id,  # a data disk of the analytics VM
        t("prod", "analytics", "bi-team"),
    )
    analytics.arm["properties"]["storageProfile"]["dataDisks"].append(
        {
            "lun": 0,
            "name": scratch.name,
            "createOption": "Attach",
            "caching": "ReadOnly",
            "managedDisk": {"storageAccountType": "Premium_LRS", "id": scratch.id},
            "diskSizeGB": 128,
        }
    )

    # Dev/test: small VMs (two deallocated), a sandbox workspace.
    for i in range(1, 7):
        profile = "off" if i in (5, 6) else "dev"
        b.vm(dev, "rg-dev", f"vm-dev-{i:02d}", "Standard_B2s", "westeurope", profile, t("dev", "sandbox", f"dev{i}"))
    b.pip(
        dev,
        "rg-dev",
        "pip-dev-bastion",
        "westeurope",
        t("dev", "sandbox", "platform"),
        attached_to="Microsoft.Network/bastionHosts/bas-dev/bastionHostIpConfigurations/IpConf",
    )
    b.storage(
        dev, "rg-dev", "stdevshared" + f"{rng.getrandbits(24):06x}", "westeurope", 250, t("dev", "sandbox", "platform")
    )
    st_sb = b.storage(
        dev, "rg-ml-sandbox", "stmlsbx" + f"{rng.getrandbits(24):06x}", "westeurope", 120, t("dev", "ml", "ml-team")
    )
    ws_sb = b.workspace(dev, "rg-ml-sandbox", "mlw-sandbox", "westeurope", st_sb, False, t("dev", "ml", "ml-team"))
    b.compute(ws_sb, "ci-dev", "ComputeInstance", "Standard_DS3_v2", "dev", "PT30M")

    planted = {
        "cost_spike": spike.id,
        "idle_vm": idle.id,
        "idle_ml_instance": idle_ml.id,
        "drift_workspace": drift_ws.id,
    }
    return subs, b.res, planted, b.extensions


def write_resources(root: Path, res: list[Res], extensions: list[dict[str, Any]]) -> None:
    for r in res:
        safe = r.name.replace("/", "__")
        dump(root / "resources" / r.sub.id / r.rg / f"{r.type.split('/')[-1].lower()}--{safe}.json", r.arm)
    for ext in extensions:
        parts = ext["id"].split("/")
        parent = ext["id"].split("/providers/Microsoft.Insights/")[0].rsplit("/", 1)[-1]
        dump(root / "resources" / parts[2] / parts[4] / f"diagnosticsettings--{parent}.json", ext)
