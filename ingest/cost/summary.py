"""Exact cost totals read back from the store (``vigil costs summary``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.runtime import LocalBlobStore
from ingest.cost.store import CostStore, map_files

__all__ = ["BY", "summarize"]

BY = {
    "day": "day",
    "service": "ServiceName",
    "resource-group": "x_ResourceGroupName",
    "subscription": "SubAccountId",  # an AWS account or a Google Cloud project for those clouds
    "provider": "ProviderName",
    "invoice-issuer": "InvoiceIssuerName",
}


def _fmt(v: Any) -> str | None:
    if v is None:
        return None
    s = format(v, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def summarize(data_dir: Path, by: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Rows ``{key, currency, billed_cost, effective_cost, rows}`` (money as exact decimal strings),
    grouped by ``day``, ``service``, ``resource-group``, ``subscription``, ``provider``, ``invoice-issuer``
    or a cost frame column,
    plus per-currency totals."""
    import pyarrow as pa
    import pyarrow.compute as pc

    by = BY.get(by, by)
    store = CostStore(LocalBlobStore(Path(data_dir)))
    cols = ["ChargePeriodStart", "BilledCost", "EffectiveCost", "BillingCurrency"]
    if by != "day":
        cols.append(by)

    def one(f: str) -> pa.Table:
        """One file's sums per key and currency (memory grows with the groups, not the rows)."""
        t = store.read_table(f, columns=cols)
        key = pc.floor_temporal(t["ChargePeriodStart"], unit="day") if by == "day" else t[by]
        part = pa.table(
            {"key": key, "currency": t["BillingCurrency"], "billed": t["BilledCost"], "effective": t["EffectiveCost"]}
        )
        g = part.group_by(["key", "currency"]).aggregate([("billed", "sum"), ("effective", "sum"), ("key", "count")])
        names = {"billed_sum": "billed", "effective_sum": "effective", "key_count": "rows"}
        return g.rename_columns([names.get(c, c) for c in g.column_names])

    files = [f for _part, cur in store.partitions() for f in cur.get("files", [])]
    tables = map_files(one, files)
    if not tables:
        return [], {}
    table = pa.concat_tables(tables, promote_options="permissive")
    agg = table.group_by(["key", "currency"]).aggregate([("billed", "sum"), ("effective", "sum"), ("rows", "sum")])
    agg = agg.rename_columns([{"rows_sum": "key_count"}.get(c, c) for c in agg.column_names])
    key = pc.strftime(agg["key"], format="%Y-%m-%d") if by == "day" else agg["key"]
    agg = agg.set_column(agg.column_names.index("key"), "key", pc.fill_null(pc.cast(key, pa.string()), ""))
    rows = []
    totals: dict[str, dict[str, Any]] = {}
    for r in sorted(agg.to_pylist(), key=lambda r: (r["key"], r["currency"])):
        rows.append(
            {
                "key": r["key"],
                "currency": r["currency"],
                "billed_cost": _fmt(r["billed_sum"]),
                "effective_cost": _fmt(r["effective_sum"]),
                "rows": r["key_count"],
            }
        )
        t = totals.setdefault(r["currency"], {"billed": None, "effective": None, "rows": 0})
        for name in ("billed", "effective"):
            if r[f"{name}_sum"] is not None:
                t[name] = (t[name] or 0) + r[f"{name}_sum"]
        t["rows"] += r["key_count"]
    out_totals = {
        cur: {"billed_cost": _fmt(t["billed"]), "effective_cost": _fmt(t["effective"]), "rows": t["rows"]}
        for cur, t in totals.items()
    }
    return rows, out_totals
