"""Exact cost totals read back from the store (``vigil costs summary``)."""

from __future__ import annotations

from collections.abc import Mapping
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


NO_KEY = "(none)"


def _no_key_label(by: str, provider: str | None) -> str:
    """The key of rows without one, saying why: resource groups exist only in Azure (docs/cost-frame.md),
    so another cloud's rows are "(none: AWS, not Azure)" rather than a blank or an invented group."""
    if by == "x_ResourceGroupName" and provider and provider.lower() != "microsoft":
        return f"{NO_KEY[:-1]}: {provider}, not Azure)"
    return NO_KEY


def summarize(data_dir: Path, by: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Rows ``{key, currency, billed_cost, effective_cost, rows, effective_rows}`` (money as exact decimal
    strings), grouped by ``day``, ``service``, ``resource-group``, ``subscription``, ``provider``,
    ``invoice-issuer`` or a cost frame column, plus per-currency totals.

    ``effective_rows`` counts the rows that carry an EffectiveCost: an EA/MCA actual-cost export has none,
    so a group's effective cost may cover only some of its rows (it is ``None`` when it covers none).
    Rows without a key are grouped under ``(none)``, with the reason where there is one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    by = BY.get(by, by)
    store = CostStore(LocalBlobStore(Path(data_dir)))
    cols = ["ChargePeriodStart", "BilledCost", "EffectiveCost", "BillingCurrency"]
    if by != "day":
        cols.append(by)
    with_provider = by == "x_ResourceGroupName"
    if with_provider:
        cols.append("ProviderName")
    all_rows = pc.CountOptions(mode="all")

    def one(f: str) -> pa.Table:
        """One file's sums per key and currency (memory grows with the groups, not the rows)."""
        t = store.read_table(f, columns=cols)
        key = pc.floor_temporal(t["ChargePeriodStart"], unit="day") if by == "day" else t[by]
        n = t.num_rows
        part = pa.table(
            {
                "key": key,
                "currency": t["BillingCurrency"],
                "provider": t["ProviderName"] if with_provider else pa.nulls(n, pa.string()),
                "billed": t["BilledCost"],
                "effective": t["EffectiveCost"],
            }
        )
        g = part.group_by(["key", "currency", "provider"]).aggregate(
            [("billed", "sum"), ("effective", "sum"), ("billed", "count", all_rows), ("effective", "count")]
        )
        names = {
            "billed_sum": "billed",
            "effective_sum": "effective",
            "billed_count": "rows",
            "effective_count": "effective_rows",
        }
        return g.rename_columns([names.get(c, c) for c in g.column_names])

    files = [f for _part, cur in store.partitions() for f in cur.get("files", [])]
    tables = map_files(one, files)
    if not tables:
        return [], {}
    table = pa.concat_tables(tables, promote_options="permissive")
    key = pc.strftime(table["key"], format="%Y-%m-%d") if by == "day" else table["key"]
    table = table.set_column(table.column_names.index("key"), "key", pc.cast(key, pa.string()))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in table.to_pylist():
        label = r["key"] if r["key"] not in (None, "") else _no_key_label(by, r["provider"])
        g = groups.setdefault((label, r["currency"]), {"billed": None, "effective": None, "rows": 0, "eff": 0})
        _add(g, r)
    rows = []
    totals: dict[str, dict[str, Any]] = {}
    for (label, currency), g in sorted(groups.items()):
        rows.append({"key": label, "currency": currency, **_out(g)})
        _add(totals.setdefault(currency, {"billed": None, "effective": None, "rows": 0, "eff": 0}), g)
    return rows, {cur: _out(t) for cur, t in totals.items()}


def _add(acc: dict[str, Any], part: Mapping[str, Any]) -> None:
    for name in ("billed", "effective"):
        if part[name] is not None:
            acc[name] = (acc[name] or 0) + part[name]
    acc["rows"] += part["rows"]
    acc["eff"] += part["effective_rows"] if "effective_rows" in part else part["eff"]


def _out(acc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "billed_cost": _fmt(acc["billed"]),
        "effective_cost": _fmt(acc["effective"]),
        "rows": acc["rows"],
        "effective_rows": acc["eff"],
    }
