"""Azure Monitor platform metrics for the idle detectors, normalized to ``core.sources.MetricSeries``.

Primary path: ``azure-monitor-querymetrics`` ``MetricsClient`` (the metrics batch API,
``POST https://<region>.metrics.monitor.azure.com/subscriptions/<sub>/metrics:getBatch``):
one call per subscription, region, resource type (metric namespace) and metric set,
with at most 50 resource ids each. Fallback, per resource, when a batch fails for any
reason other than throttling (or when no batch client is wanted): ``azure-mgmt-monitor``
``MonitorManagementClient.metrics.list`` (``GET {resourceId}/providers/microsoft.insights/metrics``).

Both SDK results are turned back into the Azure Monitor REST response shape and read by
``core.sources.parse_metrics_response`` - the same parser the tenant folder uses for its
JSON files - so a tenant file and a live query of the same data give identical series
(points without values stay points with every aggregation None: gaps, not zeros).

Throttling: the SDK retry policy already honours ``Retry-After`` on 429; if a 429 still
comes out of it, this module waits ``Retry-After`` seconds (capped) and tries again,
``max_throttle_retries`` times, before giving up on that chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.sources import MetricSeries, parse_metrics_response

__all__ = [
    "BATCH_LIMIT",
    "DEFAULT_QUERIES",
    "MetricQuery",
    "MonitorMetrics",
    "batch_result_to_rest",
    "chunk",
    "regional_endpoint",
]

log = logging.getLogger(__name__)

BATCH_LIMIT = 50  # resource ids per metrics:getBatch call (Azure Monitor limit)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """Which metrics to read for one resource type (metric namespace)."""

    names: tuple[str, ...]
    aggregations: tuple[str, ...] = ("average", "maximum", "total")
    filter: str | None = None  # e.g. "ComputeName eq '*'" to split by a dimension
    top: int | None = None  # timeseries per metric when a filter splits them (the API default is 10)


WORKSPACE = "microsoft.machinelearningservices/workspaces"
DEFAULT_QUERIES: dict[str, tuple[MetricQuery, ...]] = {
    "microsoft.compute/virtualmachines": (MetricQuery(("Percentage CPU", "Network Out Total")),),
    WORKSPACE: (
        MetricQuery(
            ("CpuUtilizationPercentage", "GpuUtilizationPercentage"),
            ("average", "maximum"),
            "ComputeName eq '*' and RunId eq '*'",
            1000,
        ),
        MetricQuery(("Idle Nodes", "Active Nodes"), ("average", "maximum"), "ClusterName eq '*'", 1000),
    ),
}


def regional_endpoint(region: str) -> str:
    """``https://<region>.metrics.monitor.azure.com`` (the batch API is regional)."""
    return f"https://{region.lower().replace(' ', '')}.metrics.monitor.azure.com"


def chunk(items: Sequence[str], size: int = BATCH_LIMIT) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _subscription(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


def _duration(td: timedelta | None) -> str:
    if td is None:
        return ""
    seconds = int(td.total_seconds())
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")


def batch_result_to_rest(result: Any) -> dict[str, Any]:
    """A ``MetricsQueryResult`` back in the REST response shape (``GET .../metrics`` body)."""
    return {
        "cost": result.cost,
        "timespan": result.timespan,
        "interval": _duration(result.granularity),
        "namespace": result.namespace,
        "resourceregion": result.resource_region,
        "value": [
            {
                "id": m.id,
                "type": m.type,
                "name": {"value": m.name, "localizedValue": m.name},
                "unit": m.unit,
                "displayDescription": m.display_description,
                "timeseries": [
                    {
                        "metadatavalues": [
                            {"name": {"value": k, "localizedValue": k}, "value": v}
                            for k, v in (ts.metadata_values or {}).items()
                        ],
                        "data": [
                            {
                                k: v
                                for k, v in (
                                    ("timeStamp", _iso(p.timestamp)),
                                    ("average", p.average),
                                    ("minimum", p.minimum),
                                    ("maximum", p.maximum),
                                    ("total", p.total),
                                    ("count", p.count),
                                )
                                if v is not None
                            }
                            for p in ts.data
                        ],
                    }
                    for ts in m.timeseries
                ],
            }
            for m in result.metrics
        ],
    }


def _sorted(series: Iterable[MetricSeries]) -> list[MetricSeries]:
    out = []
    for s in series:
        ordered = all(a.timestamp <= b.timestamp for a, b in zip(s.points, s.points[1:], strict=False))
        out.append(s if ordered else replace(s, points=tuple(sorted(s.points, key=lambda p: p.timestamp))))
    return out


@dataclass
class FetchStats:
    batch_calls: int = 0
    fallback_calls: int = 0
    throttled: int = 0
    failed: list[str] = field(default_factory=list)


def _retry_after(exc: Any, default: float) -> float:
    resp = getattr(exc, "response", None)
    headers = getattr(resp, "headers", None) or {}
    for key in ("Retry-After", "retry-after", "x-ms-retry-after-ms"):
        value = headers.get(key)
        if value:
            try:
                secs = float(value)
            except ValueError:
                continue
            return secs / 1000 if key.endswith("-ms") else secs
    return default


class MonitorMetrics:
    """Reads hourly metrics of many resources, batch API first, per-resource API as fallback.

    ``batch_client(region)`` returns a ``MetricsClient`` for the region's endpoint and
    ``mgmt_client(subscription)`` a ``MonitorManagementClient``; the defaults build the real
    clients from ``credential`` (``client_kwargs`` go to both, e.g. a test server's CA).
    """

    def __init__(
        self,
        credential: Any,
        *,
        queries: Mapping[str, tuple[MetricQuery, ...]] | None = None,
        batch_client: Callable[[str], Any] | None = None,
        mgmt_client: Callable[[str], Any] | None = None,
        use_batch: bool = True,
        endpoint: Callable[[str], str] = regional_endpoint,
        mgmt_base_url: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        max_throttle_retries: int = 3,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credential = credential
        self.queries = dict(queries or DEFAULT_QUERIES)
        self._batch_factory = batch_client
        self._mgmt_factory = mgmt_client
        self.use_batch = use_batch
        self._endpoint = endpoint
        self._mgmt_base_url = mgmt_base_url
        self._kwargs = dict(client_kwargs or {})
        self.max_throttle_retries = max_throttle_retries
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._batch: dict[str, Any] = {}
        self._mgmt: dict[str, Any] = {}
        self.stats = FetchStats()

    # ------------------------------------------------------------------ clients

    def _batch_client(self, region: str) -> Any:
        if region not in self._batch:
            if self._batch_factory is not None:
                self._batch[region] = self._batch_factory(region)
            else:
                from azure.monitor.querymetrics import MetricsClient

                self._batch[region] = MetricsClient(self._endpoint(region), self._credential, **self._kwargs)
        return self._batch[region]

    def _mgmt_client(self, subscription: str) -> Any:
        if subscription not in self._mgmt:
            if self._mgmt_factory is not None:
                self._mgmt[subscription] = self._mgmt_factory(subscription)
            else:
                from azure.mgmt.monitor import MonitorManagementClient

                kwargs = dict(self._kwargs)
                kwargs.pop("credential_scopes", None)
                if self._mgmt_base_url:
                    kwargs["base_url"] = self._mgmt_base_url
                self._mgmt[subscription] = MonitorManagementClient(self._credential, subscription, **kwargs)
        return self._mgmt[subscription]

    # ------------------------------------------------------------------ public

    def fetch(
        self, resources: Iterable[Mapping[str, Any]], *, start: datetime, end: datetime, interval: timedelta = HOUR
    ) -> dict[str, list[MetricSeries]]:
        """Series of every resource whose type has queries, keyed by canonical (lower-case) resource id."""
        groups: dict[tuple[str, str, str], list[str]] = {}
        for r in resources:
            rid, rtype = str(r.get("id") or ""), str(r.get("type") or "").lower()
            if not rid or rtype not in self.queries:
                continue
            region = str(r.get("location") or "").lower().replace(" ", "")
            groups.setdefault((_subscription(rid), region, rtype), []).append(rid)
        out: dict[str, list[MetricSeries]] = {}
        for (sub, region, rtype), ids in sorted(groups.items()):
            for query in self.queries[rtype]:
                for ids_chunk in chunk(sorted(set(ids))):
                    for s in self._fetch_chunk(sub, region, rtype, query, ids_chunk, start, end, interval):
                        out.setdefault(s.resource_id, []).append(s)
        return out

    # ------------------------------------------------------------------ internals

    def _fetch_chunk(  # noqa: PLR0917 - one chunk of one query
        self,
        sub: str,
        region: str,
        rtype: str,
        query: MetricQuery,
        ids: list[str],
        start: datetime,
        end: datetime,
        interval: timedelta,
    ) -> list[MetricSeries]:
        if self.use_batch and region:
            try:
                results = self._throttled(
                    lambda: self._batch_client(region).query_resources(
                        resource_ids=ids,
                        metric_namespace=rtype,
                        metric_names=list(query.names),
                        timespan=(start, end),
                        granularity=interval,
                        aggregations=list(query.aggregations),
                        filter=query.filter,
                        max_results=query.top,
                    )
                )
                self.stats.batch_calls += 1
                series: list[MetricSeries] = []
                for i, result in enumerate(results):
                    series += parse_metrics_response(
                        batch_result_to_rest(result), source=f"metrics:getBatch {sub}/{region}[{i}]"
                    )
                return _sorted(series)
            except Exception as exc:
                if getattr(exc, "status_code", None) == 429:
                    self.stats.failed.extend(ids)
                    log.warning("metrics batch still throttled for %s/%s; %d resources skipped", sub, region, len(ids))
                    return []
                log.warning(
                    "metrics batch failed for %s/%s (%s); falling back to metrics.list",
                    sub,
                    region,
                    exc,
                    extra={"subscription": sub, "region": region, "resources": len(ids)},
                )
        series = []
        for rid in ids:
            series += self._list_one(sub, rtype, query, rid, start, end, interval)
        return _sorted(series)

    def _list_one(  # noqa: PLR0917
        self,
        sub: str,
        rtype: str,
        query: MetricQuery,
        rid: str,
        start: datetime,
        end: datetime,
        interval: timedelta,
    ) -> list[MetricSeries]:
        try:
            resp = self._throttled(
                lambda: self._mgmt_client(sub).metrics.list(
                    rid.lstrip("/"),
                    timespan=f"{_iso(start)}/{_iso(end)}",
                    interval=_duration(interval),
                    metricnames=",".join(query.names),
                    aggregation=",".join(query.aggregations),
                    metricnamespace=rtype,
                    filter=query.filter,
                    top=query.top,
                )
            )
        except Exception as exc:
            self.stats.failed.append(rid)
            log.warning("metrics.list failed for %s: %s", rid, exc, extra={"resource_id": rid})
            return []
        self.stats.fallback_calls += 1
        body = resp.serialize(keep_readonly=True) if hasattr(resp, "serialize") else resp
        return parse_metrics_response(body, source=f"metrics.list {rid}")

    def _throttled(self, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as exc:
                if getattr(exc, "status_code", None) != 429 or attempt >= self.max_throttle_retries:
                    raise
                attempt += 1
                self.stats.throttled += 1
                wait = min(_retry_after(exc, 1.0 * attempt), self.max_retry_after)
                log.info("metrics throttled (429); retrying in %.1f s", wait, extra={"attempt": attempt})
                self._sleep(wait)
