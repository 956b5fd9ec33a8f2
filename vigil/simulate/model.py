"""Constants, the simulated resource model and small helpers shared by the simulator modules."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SEED = 7
DEFAULT_NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
COST_DAYS = 90
METRIC_DAYS = 30
ROWS_PER_PART = 400

# Production and data science bill through an EA enrollment; dev/test through an MCA billing profile.
BILLING_ACCOUNT = "71234567"
BILLING_ACCOUNT_NAME = "Contoso Ltd (simulated)"
MCA_ACCOUNT = "5e98e158-xxxx-4cd0-9d49-3d1ab1f7a7c4:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d_2019-05-31".replace(
    "xxxx", "6b0f"
)
MCA_PROFILE = "AW4F-XYZ1-BG7-TGB"
MCA_NAME = "Contoso Dev-Test (simulated)"
EXPORT_SCOPES = {
    "ea": f"/providers/Microsoft.Billing/billingAccounts/{BILLING_ACCOUNT}",
    "focus": f"/providers/Microsoft.Billing/billingAccounts/{MCA_ACCOUNT}/billingProfiles/{MCA_PROFILE}",
}
EXPORT_NAMES = {"ea": "ea-actual-daily", "focus": "focus-daily"}
TENANT_ID = "72f988bf-0000-4000-8000-00000000cafe"
REGION_NAMES = {"eastus": "East US", "westeurope": "West Europe", "eastus2": "East US 2"}
METER_REGIONS = {"eastus": "US East", "westeurope": "EU West", "eastus2": "US East 2"}

# Pay-as-you-go hourly prices (USD) of the sizes used.
VM_PRICES = {
    "Standard_B2s": 0.0416,
    "Standard_D2s_v3": 0.096,
    "Standard_D4s_v3": 0.192,
    "Standard_E4s_v3": 0.252,
    "Standard_NC6s_v3": 3.06,
    "Standard_DS3_v2": 0.229,
}
VM_CORES = {
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
            interleave(self.type.split("/")[1:], self.name.split("/"))
        )


def interleave(types: list[str], names: list[str]) -> list[str]:
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


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso7(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"


def dump(path: Path, doc: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    path.write_bytes(data)
    return len(data)


def month_start(d: date) -> date:
    return d.replace(day=1)


def next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def fmt_money(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".") if x else "0"
