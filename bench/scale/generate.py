"""Write a normalized cost store directly (the ingest is measured by bench/ingest): months of daily
rows across many subscriptions, in the layout and schema ``vigil ingest cost`` writes.

Per month: about ``rows`` rows, each a (day, resource, meter) charge: a pool of resources (one
subscription, resource group, service and tags each), every one billing ``meters`` rows every day, as in
EA exports where a VM bills compute, disk and network meters, with 5 % day-to-day noise and no planted
anomaly. Costs are exact decimals (micro-units). Returns the first day after the data.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.runtime import LocalBlobStore as LocalBlobs
from ingest.cost.engine import PartitionStats
from ingest.cost.normalize import COST_TYPE, FRAME_SCHEMA
from ingest.cost.pipeline import run_pointer
from ingest.cost.store import CostStore, Partition

__all__ = ["write_store"]

_SERVICES = ["Virtual Machines", "Storage", "Bandwidth", "SQL Database", "Azure App Service", "Key Vault", "Backup"]


def _months(first: date, n: int) -> list[date]:
    out, y, m = [], first.year, first.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def write_store(root: Path, *, months: int, rows: int, subs: int, meters: int = 4, seed: int = 1) -> tuple[date, int]:
    """Write the store; returns the first day after the data (the ``now`` of a detect run) and the rows."""
    total = 0
    rng = np.random.default_rng(seed)
    store = CostStore(LocalBlobs(root))
    firsts = _months(date(2025, 11, 1), months)
    per_day = rows / 30
    pool = max(subs * 5, int(per_day / meters))  # at small scales: at least a resource per resource group
    sub_ids = np.array([f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(subs)])
    res_sub = rng.integers(0, subs, pool)
    res_rg = rng.integers(0, 5, pool)
    res_svc = rng.integers(0, len(_SERVICES), pool)
    res_base = rng.lognormal(0.0, 1.2, pool)  # daily cost of a resource, in currency units
    rgs = np.array([f"rg-{k}" for k in range(5)])
    res_ids = np.array(
        [
            f"/subscriptions/{sub_ids[res_sub[i]]}/resourcegroups/{rgs[res_rg[i]]}/providers/"
            f"microsoft.compute/virtualmachines/vm-{i}"
            for i in range(pool)
        ]
    )
    for first in firsts:
        ndays = calendar.monthrange(first.year, first.month)[1]
        # every resource bills every day, ``meters`` rows a day
        day = np.repeat(np.arange(ndays), pool * meters)
        res = np.tile(np.repeat(np.arange(pool), meters), ndays)
        n = len(res)
        micros = np.maximum(1, (res_base[res] / meters * rng.uniform(0.95, 1.05, n) * 1e6).astype(np.int64))
        start_us = int(datetime(first.year, first.month, 1, tzinfo=UTC).timestamp()) * 1_000_000 + day * 86_400_000_000
        ts = pa.array(start_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        end = pa.array(start_us + 86_400_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        # micro-units -> decimal(38, 6) through float (exact: the float error is far below 0.5e-6) -> COST_TYPE
        cost = pc.cast(pa.array(micros / 1e6), pa.decimal128(38, 6)).cast(COST_TYPE)
        s = pa.nulls(n, pa.string())
        data = {
            "ChargePeriodStart": ts,
            "ChargePeriodEnd": end,
            "BilledCost": cost,
            "EffectiveCost": cost,
            "BillingCurrency": pa.array(["USD"] * n, pa.string()),
            "SubAccountId": pa.array(sub_ids[res_sub[res]], pa.string()),
            "SubAccountName": s,
            "x_ResourceGroupName": pa.array(rgs[res_rg[res]], pa.string()),
            "ResourceId": pa.array(res_ids[res], pa.string()),
            "ResourceName": s,
            "ResourceType": pa.array(["microsoft.compute/virtualmachines"] * n, pa.string()),
            "ServiceName": pa.array(np.array(_SERVICES)[res_svc[res]], pa.string()),
            "ServiceCategory": s,
            "RegionId": pa.array(["eastus"] * n, pa.string()),
            "ChargeCategory": pa.array(["Usage"] * n, pa.string()),
            "ChargeFrequency": pa.array(["Usage-Based"] * n, pa.string()),
            "PricingCategory": pa.array(["Standard"] * n, pa.string()),
            "ConsumedQuantity": pa.array(rng.uniform(0, 24, n), pa.float64()),
            "ConsumedUnit": pa.array(["1 Hour"] * n, pa.string()),
            "Tags": pa.array(np.where(res_sub[res] % 2 == 0, '{"env":"prod"}', '{"env":"dev"}'), pa.string()),
            "CommitmentDiscountId": s,
            "ProviderName": pa.array(["Microsoft"] * n, pa.string()),
            "ServiceProviderName": pa.array(["Microsoft"] * n, pa.string()),
            "InvoiceIssuerName": pa.array(["Microsoft"] * n, pa.string()),
            "x_SourceRunId": pa.array([f"bench-{first:%Y%m}"] * n, pa.string()),
            "x_SourceFile": pa.array(["bench.parquet"] * n, pa.string()),
        }
        table = pa.table(data, schema=FRAME_SCHEMA)
        part = Partition("bench-enrollment", f"{first:%Y-%m}", "actual")
        path = store.run_path(part, f"bench-{first:%Y%m}", "part.parquet")
        w = store.open_writer(path, FRAME_SCHEMA)
        for off in range(0, n, 1 << 20):
            w.write(table.slice(off, 1 << 20))
        w.close()
        total += n
        stats = PartitionStats(rows=n, files=[path])
        stats.billed_cost["USD"] = pc.sum(cost).as_py()
        store.swap(part, run_pointer(f"bench-{first:%Y%m}", f"bench-{first:%Y%m}", first.isoformat(), stats))
    return _months(firsts[-1], 2)[1], total
