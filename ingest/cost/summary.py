"""Exact cost totals read back from the store (``vigil costs summary``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.cost.store import CostStore, LocalBlobs

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
    store = CostStore(LocalBlobs(Path(data_dir)))
    cols = ["ChargePeriodStart", "BilledCost", "EffectiveCost", "BillingCurrency"]
    if by != "day":
        cols.append(by)
    tables = []
    for _part, cur in store.partitions():
        for f in cur.get("files", []):
            t = store.read_table(f, columns=cols)
            key = pc.strftime(t["ChargePeriodStart"], format="%Y-%m-%d") if by == "day" else t[by]
            part = pa.table(
                {
                    "key": pc.fill_null(key, ""),
                    "currency": t["BillingCurrency"],
                    "billed": t["BilledCost"],
                    "effective": t["EffectiveCost"],
                }
            )
            # aggregated file by file (memory grows with the groups, not the rows), then across files
            g = part.group_by(["key", "currency"]).aggregate(
                [("billed", "sum"), ("effective", "sum"), ("key", "count")]
            )
            names = {"billed_sum": "billed", "effective_sum": "effective", "key_count": "rows"}
            tables.append(g.rename_columns([names.get(c, c) for c in g.column_names]))
    if not tables:
        return [], {}
    table = pa.concat_tables(tables, promote_options="permissive")
    agg = table.group_by(["key", "currency"]).aggregate([("billed", "sum"), ("effective", "sum"), ("rows", "sum")])
    agg = agg.rename_columns([{"rows_sum": "key_count"}.get(c, c) for c in agg.column_names])
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
