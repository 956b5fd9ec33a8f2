"""Cost Management Query API as a cost source, for scopes without exports.

``fetch_daily_costs`` asks ``POST {scope}/providers/Microsoft.CostManagement/query``
(azure-mgmt-costmanagement) for daily cost grouped by resource group and service,
follows ``nextLink`` (same body, POSTed to the link) and, on HTTP 429, waits as long
as the ``x-ms-ratelimit-microsoft.costmanagement-*-retry-after`` headers say (the
longest of them; ``Retry-After`` as a fallback) before retrying.

``ingest_query`` normalizes the rows to the cost frame and stores them like an export
run, under ``dataset=api-actual`` or ``dataset=api-amortized``, one run per whole
calendar month (a query run replaces the month, so it always asks for whole months).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ingest.nextlink import checked_next_link

if TYPE_CHECKING:
    import pyarrow as pa

    from core.runtime import BlobStore

__all__ = [
    "QueryThrottledError",
    "cost_client",
    "fetch_daily_costs",
    "ingest_query",
    "query_body",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)
_RATE_HEADER = re.compile(r"^x-ms-ratelimit-microsoft\.costmanagement-[a-z0-9-]+-retry-after$", re.IGNORECASE)


class QueryThrottledError(RuntimeError):
    """Still throttled (HTTP 429) after the allowed retries."""


def cost_client(credential: Any, base_url: str | None = None, **kwargs: Any) -> Any:
    """A CostManagementClient whose own retry policy leaves HTTP status retries to this module.

    The SDK would otherwise retry 429 with its generic back-off, ignoring the Cost Management
    rate-limit headers. Connection errors are still retried by the SDK.
    """
    from azure.mgmt.costmanagement import CostManagementClient

    kwargs.setdefault("retry_status", 0)
    if base_url is not None:
        return CostManagementClient(credential, base_url=base_url, **kwargs)
    return CostManagementClient(credential, **kwargs)


def retry_after_seconds(headers: Any, attempt: int) -> float:
    """Seconds to wait after a 429: the longest costmanagement ``*-retry-after``, else ``Retry-After``,
    else exponential back-off."""
    waits: list[float] = []
    for name, value in dict(headers or {}).items():
        if _RATE_HEADER.match(str(name)):
            try:
                waits.append(float(value))
            except (TypeError, ValueError):
                continue
    if waits:
        return max(waits)
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                break
    return float(min(2**attempt, 60))


def query_body(start: date, end: date, *, metric: str = "ActualCost") -> dict[str, Any]:
    """Daily cost by resource group and service for [start, end] (inclusive, as the API takes it)."""
    return {
        "type": metric,
        "timeframe": "Custom",
        "timePeriod": {"from": f"{start.isoformat()}T00:00:00+00:00", "to": f"{end.isoformat()}T23:59:59+00:00"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [
                {"type": "Dimension", "name": "ResourceGroupName"},
                {"type": "Dimension", "name": "ServiceName"},
            ],
        },
    }


def _call(fn: Callable[[], Any], *, what: str, sleep: Callable[[float], None], max_retries: int) -> Any:
    from azure.core.exceptions import HttpResponseError

    for attempt in range(max_retries + 1):
        try:
            return fn()
        except HttpResponseError as exc:
            status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
            if status != 429 or attempt == max_retries:
                if status == 429:
                    raise QueryThrottledError(f"{what}: still throttled after {max_retries} retries") from exc
                raise
            headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
            wait = retry_after_seconds(headers, attempt)
            log.warning(
                "cost query throttled; retrying in %.1f s",
                wait,
                extra={"what": what, "attempt": attempt + 1, "retry_after_s": wait},
            )
            sleep(wait)
    raise AssertionError("unreachable")


def _as_dict(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, dict):
        return result
    if hasattr(result, "as_dict"):
        d: dict[str, Any] = result.as_dict()
        return d
    return dict(result)


def fetch_daily_costs(
    client: Any,
    scope: str,
    start: date,
    end: date,
    *,
    metric: str = "ActualCost",
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 6,
) -> tuple[list[str], list[list[Any]], int]:
    """All rows (paging through nextLink) as (column names, rows, pages fetched)."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    body = query_body(start, end, metric=metric)
    scope = scope.strip("/")
    first = _call(lambda: client.query.usage(scope, body), what=f"query {scope}", sleep=sleep, max_retries=max_retries)
    page = _as_dict(first)
    # The host the first page came from: the client's endpoint (nextLink may go nowhere else).
    cfg = getattr(client, "_config", None)
    endpoint = str(getattr(cfg, "base_url", "") or getattr(cfg, "endpoint", "") or "https://management.azure.com")
    first_url = f"{endpoint.rstrip('/')}/{scope}"
    columns: list[str] = []
    rows: list[list[Any]] = []
    pages = 0
    while page:
        pages += 1
        props = page.get("properties") or {}
        cols = [c.get("name") for c in props.get("columns") or []]
        if cols:
            columns = cols
        rows.extend(props.get("rows") or [])
        link = props.get("nextLink") or props.get("next_link")
        if not link:
            break
        link = checked_next_link(str(link), first_url)  # ForeignNextLinkError: the run fails, no token leaves

        def _next(url: str = link) -> dict[str, Any]:
            resp = client.send_request(HttpRequest("POST", url, json=body))
            if resp.status_code >= 400:
                raise HttpResponseError(response=resp)
            data: dict[str, Any] = resp.json() if resp.status_code != 204 else {}
            return data

        page = _call(_next, what=f"query {scope} page {pages + 1}", sleep=sleep, max_retries=max_retries)
    return columns, rows, pages


def _scope_id(scope: str) -> tuple[str, str | None]:
    """(partition scope, subscription id if the scope is a subscription or below)."""
    parts = [p for p in scope.strip("/").split("/") if p]
    sub = None
    for i, p in enumerate(parts[:-1]):
        if p.lower() == "subscriptions":
            sub = parts[i + 1].lower()
    if sub is not None:
        return sub, sub
    return (parts[-1].lower() if parts else "unknown"), None


def _day(v: Any) -> datetime:
    s = str(v).strip()
    if re.fullmatch(r"\d{8}", s):
        return datetime(int(s[:4]), int(s[4:6]), int(s[6:8]), tzinfo=UTC)
    dt = datetime.fromisoformat(s)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_frame(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, scope: str, metric: str, run_id: str
) -> pa.Table:
    """Query rows -> cost frame table (plus the partition helper columns)."""
    import pyarrow as pa

    from ingest.cost.normalize import COST_TYPE, FRAME_SCHEMA

    idx = {c.lower(): i for i, c in enumerate(columns)}

    def col(*names: str) -> int | None:
        return next((idx[n.lower()] for n in names if n.lower() in idx), None)

    i_cost = col("Cost", "PreTaxCost", "CostUSD", "totalCost")
    i_date = col("UsageDate", "BillingMonth", "Date")
    i_rg = col("ResourceGroupName", "ResourceGroup")
    i_svc = col("ServiceName")
    i_cur = col("Currency", "BillingCurrency")
    if i_cost is None or i_date is None:
        raise ValueError(f"query result for {scope} has no cost or date column (columns: {', '.join(columns)})")
    part_scope, sub = _scope_id(scope)
    q = Decimal(1).scaleb(-18)
    starts, costs, rgs, svcs, curs, days, months = [], [], [], [], [], [], []
    for r in rows:
        d = _day(r[i_date])
        starts.append(d)
        costs.append(Decimal(str(r[i_cost])).quantize(q))
        rg = r[i_rg] if i_rg is not None else None
        rgs.append(str(rg).lower() if rg else None)
        svcs.append(r[i_svc] if i_svc is not None and r[i_svc] else None)
        curs.append(str(r[i_cur]) if i_cur is not None and r[i_cur] else "USD")
        days.append(d.strftime("%Y-%m-%d"))
        months.append(d.strftime("%Y-%m"))
    n = len(rows)
    ts = pa.timestamp("us", tz="UTC")
    micros = [int(d.timestamp()) * 1_000_000 for d in starts]
    start_arr = pa.array(micros, pa.int64()).cast(ts)
    end_arr = pa.array([m + 86_400_000_000 for m in micros], pa.int64()).cast(ts)
    cost_arr = pa.array(costs, COST_TYPE)
    nulls_cost = pa.nulls(n, COST_TYPE)
    billed, effective = (cost_arr, nulls_cost) if metric == "ActualCost" else (nulls_cost, cost_arr)
    s = pa.nulls(n, pa.string())
    data = {
        "ChargePeriodStart": start_arr,
        "ChargePeriodEnd": end_arr,
        "BilledCost": billed,
        "EffectiveCost": effective,
        "BillingCurrency": pa.array(curs, pa.string()),
        "SubAccountId": pa.array([sub] * n, pa.string()),
        "SubAccountName": s,
        "x_ResourceGroupName": pa.array(rgs, pa.string()),
        "ResourceId": s,
        "ResourceName": s,
        "ResourceType": s,
        "ServiceName": pa.array(svcs, pa.string()),
        "ServiceCategory": s,
        "RegionId": s,
        "ChargeCategory": pa.array(["Usage"] * n, pa.string()),
        "ChargeFrequency": s,
        "PricingCategory": s,
        "ConsumedQuantity": pa.nulls(n, pa.float64()),
        "ConsumedUnit": s,
        "Tags": s,
        "CommitmentDiscountId": s,
        "ProviderName": pa.array(["Microsoft"] * n, pa.string()),
        "ServiceProviderName": pa.array(["Microsoft"] * n, pa.string()),
        "InvoiceIssuerName": pa.array(["Microsoft"] * n, pa.string()),
        "x_SourceRunId": pa.array([run_id] * n, pa.string()),
        "x_SourceFile": pa.array([f"costmanagement-query:/{scope.strip('/')}"] * n, pa.string()),
        "_scope": pa.array([part_scope] * n, pa.string()),
        "_month": pa.array(months, pa.string()),
        "_day": pa.array(days, pa.string()),
    }
    schema = FRAME_SCHEMA.append(pa.field("_scope", pa.string()))
    schema = schema.append(pa.field("_month", pa.string())).append(pa.field("_day", pa.string()))
    return pa.table(data, schema=schema)


def _month_bounds(start: date, end: date) -> tuple[date, date]:
    first = start.replace(day=1)
    nxt = (end.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def ingest_query(
    client: Any,
    scope: str,
    start: date,
    end: date,
    dest: BlobStore,
    *,
    metric: str = "ActualCost",
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    today: date | None = None,
) -> dict[str, Any]:
    """Fetch whole months covering [start, end] for ``scope`` and swap them into the store."""
    import pyarrow.compute as pc

    from ingest.cost.engine import PartitionStats, _accumulate
    from ingest.cost.normalize import FRAME_SCHEMA
    from ingest.cost.store import CostStore, Partition, scope_key

    now = now or datetime.now(UTC)
    first, last = _month_bounds(start, end)
    last = min(last, today or now.date())
    columns, rows, pages = fetch_daily_costs(client, scope, first, last, metric=metric, sleep=sleep)
    run_id = f"query-{scope_key(scope)}-{first.isoformat()}-{last.isoformat()}-{now.strftime('%Y%m%dT%H%M%S')}"
    table = to_frame(columns, rows, scope=scope, metric=metric, run_id=run_id)
    store = CostStore(dest)
    dataset = "api-actual" if metric == "ActualCost" else "api-amortized"
    out: dict[str, Any] = {"run_id": run_id, "rows": table.num_rows, "pages": pages, "partitions": []}
    for month in sorted(set(table["_month"].to_pylist())):
        sub = table.filter(pc.equal(table["_month"], month))
        part = Partition(scope_key(sub["_scope"][0].as_py()), month, dataset)
        stats = PartitionStats()
        _accumulate(stats, sub)
        stats.rows = sub.num_rows
        path = store.run_path(part, scope_key(run_id), "query.parquet")
        store.write_table(path, sub.select(FRAME_SCHEMA.names))
        stats.files.append(path)
        pointer = {"run_id": run_id, "run_key": scope_key(run_id), "submitted": now.isoformat(), "dataset": dataset}
        pointer.update(stats.to_json())
        if store.swap(part, pointer):
            out["partitions"].append({"scope": part[0], "month": month, "days": sorted(stats.days)})
    return out
