"""Source protocols: where the pipeline reads resources, metrics, costs, events and activity.

The offline tenant folder (``vigil.tenant.TenantFolder``, a directory laid out exactly as
Azure returns data, see docs/tenant-layout.md) implements them all. The Function App reads
the same data live, through ``vigil.handlers.sources.LiveSources``: ARM GET
(``ingest.arm.ArmReader``), Azure Resource Graph, Azure Monitor metrics
(``ingest.metrics``), Cost Management exports in Blob Storage (BlobCreated events) and
Event Grid deliveries.

Stdlib only at import: detectors read :class:`MetricSeries` (the normalized shape of an
Azure Monitor metrics REST response) without importing any I/O layer. The parser also
attaches :class:`SeriesColumns` (numpy arrays, built once) to each series for the
vectorised idle statistics; numpy is imported lazily, only when metrics are parsed, so
the drift/event path that imports this module never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.timeutil import parse_utc

__all__ = [
    "ActivitySource",
    "CostExportRun",
    "CostSource",
    "EventSource",
    "MetricPoint",
    "MetricSeries",
    "MetricsSource",
    "ResourceSource",
    "SeriesColumns",
    "SourceError",
    "epoch_us",
    "parse_metrics_response",
    "resource_id_of_metric",
    "series_columns",
    "with_columns",
]


class SourceError(ValueError):
    """A source file or response could not be read; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One time grain of an Azure Monitor metric (``timeseries[].data[]``)."""

    timestamp: datetime
    average: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    total: float | None = None
    count: float | None = None


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """The same points as columns (numpy arrays of equal length, in time order).

    ``time``: int64 microseconds since the Unix epoch (UTC; a naive timestamp counts as UTC);
    ``average``/``minimum``/``maximum``/``total``/``count``: float64, NaN where the point has
    no value (a gap, never a zero). Typed ``Any`` to keep this module free of numpy imports.
    """

    time: Any
    average: Any
    minimum: Any
    maximum: Any
    total: Any
    count: Any

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One metric of one resource (optionally one dimension combination).

    ``columns`` (optional, built by :func:`parse_metrics_response` and :func:`with_columns`)
    holds the points as numpy arrays for vectorised readers; it never takes part in
    equality, and readers fall back to ``points`` when it is None.
    """

    resource_id: str  # canonical lower case
    name: str  # e.g. "Percentage CPU"
    unit: str
    interval: str  # ISO 8601 duration, e.g. "PT1H"
    points: tuple[MetricPoint, ...]
    dimensions: Mapping[str, str] = field(default_factory=dict)
    columns: SeriesColumns | None = field(default=None, compare=False, repr=False)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def epoch_us(ts: datetime) -> int:
    """Microseconds since the Unix epoch (exact; a naive datetime counts as UTC)."""
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICRO


def series_columns(points: Sequence[MetricPoint]) -> SeriesColumns:
    """The points as :class:`SeriesColumns`, sorted by time (stable: equal timestamps keep their order)."""
    import numpy as np

    nan = math.nan
    time = np.fromiter((epoch_us(p.timestamp) for p in points), dtype=np.int64, count=len(points))

    def col(name: str) -> Any:
        return np.fromiter(
            (nan if (v := getattr(p, name)) is None else v for p in points), dtype=np.float64, count=len(points)
        )

    cols = [col(n) for n in ("average", "minimum", "maximum", "total", "count")]
    if len(time) > 1 and bool((time[1:] < time[:-1]).any()):
        order = np.argsort(time, kind="stable")
        time, cols = time[order], [c[order] for c in cols]
    return SeriesColumns(time, *cols)


def with_columns(series: MetricSeries) -> MetricSeries:
    """The series with its :class:`SeriesColumns` built from its points (if not already there)."""
    if series.columns is not None and len(series.columns) == len(series.points):
        return series
    return replace(series, columns=series_columns(series.points))


@dataclass(frozen=True, slots=True)
class CostExportRun:
    """One Cost Management export run: its manifest and the data files beside it."""

    manifest_path: Path
    manifest: Mapping[str, Any]
    part_paths: tuple[Path, ...]

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("runInfo", {}).get("runId", ""))

    @property
    def export_name(self) -> str:
        return str(self.manifest.get("exportConfig", {}).get("exportName", ""))

    @property
    def dataset(self) -> str:
        return str(self.manifest.get("exportConfig", {}).get("type", ""))


@runtime_checkable
class ResourceSource(Protocol):
    """ARM resources as returned by ``GET {resourceId}?api-version=...``."""

    def get(self, resource_id: str) -> dict[str, Any] | None: ...

    def list(self, types: Iterable[str] | None = None) -> list[dict[str, Any]]: ...


@runtime_checkable
class MetricsSource(Protocol):
    """Azure Monitor platform metrics, normalized to :class:`MetricSeries`."""

    def series(self, resource_id: str, names: Iterable[str] | None = None) -> list[MetricSeries]: ...

    def all_series(self, names: Iterable[str] | None = None) -> dict[str, list[MetricSeries]]:
        """Every resource's series, keyed by canonical resource id."""
        ...


@runtime_checkable
class CostSource(Protocol):
    """Cost Management export runs (manifest.json plus part files), oldest first."""

    def runs(self) -> list[CostExportRun]: ...


@runtime_checkable
class EventSource(Protocol):
    """Event Grid events (Event Grid schema or CloudEvents), in delivery order."""

    def events(self) -> Iterator[dict[str, Any]]: ...


@runtime_checkable
class ActivitySource(Protocol):
    """Activity Log entries (``value[]`` of the Activity Log REST response)."""

    def entries(self) -> Iterator[dict[str, Any]]: ...


# --- Azure Monitor metrics REST response parsing (shared by every MetricsSource) ---

_METRIC_SUFFIX = "/providers/microsoft.insights/metrics/"


def resource_id_of_metric(metric_id: str) -> str:
    """``<resourceId>/providers/Microsoft.Insights/metrics/<name>`` -> ``<resourceId>`` (lower case)."""
    low = metric_id.strip().lower()
    idx = low.rfind(_METRIC_SUFFIX)
    return (low[:idx] if idx >= 0 else low).rstrip("/")


def _ts(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise SourceError(f"{where}: timeStamp missing or not a string")
    try:
        return parse_utc(value)
    except ValueError:
        raise SourceError(f"{where}: timeStamp {value!r} is not ISO 8601") from None


def _num(d: Mapping[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, int | float) else None


def parse_metrics_response(
    body: Mapping[str, Any], *, source: str = "<response>", columns: bool = True
) -> list[MetricSeries]:
    """Parse a ``GET {resourceId}/providers/microsoft.insights/metrics`` response body.

    One :class:`MetricSeries` per metric and timeseries (dimension combination), with its
    :class:`SeriesColumns` built once here (``columns=False``: points only).
    Raises :class:`SourceError` naming the source and field on malformed input.
    """
    values = body.get("value")
    if not isinstance(values, list):
        raise SourceError(f"{source}: 'value' must be a list of metrics")
    interval = str(body.get("interval") or "")
    out: list[MetricSeries] = []
    for i, metric in enumerate(values):
        where = f"{source}: value[{i}]"
        if not isinstance(metric, Mapping) or "id" not in metric:
            raise SourceError(f"{where}: metric without 'id'")
        name_field = metric.get("name")
        name = name_field.get("value") if isinstance(name_field, Mapping) else name_field
        if not isinstance(name, str):
            raise SourceError(f"{where}: 'name.value' missing")
        rid = resource_id_of_metric(str(metric["id"]))
        for j, ts in enumerate(metric.get("timeseries") or []):
            dims = {
                str(m.get("name", {}).get("value", "")): str(m.get("value", "")) for m in ts.get("metadatavalues") or []
            }
            points = tuple(
                MetricPoint(
                    timestamp=_ts(p.get("timeStamp"), f"{where}.timeseries[{j}].data[{k}]"),
                    average=_num(p, "average"),
                    minimum=_num(p, "minimum"),
                    maximum=_num(p, "maximum"),
                    total=_num(p, "total"),
                    count=_num(p, "count"),
                )
                for k, p in enumerate(ts.get("data") or [])
            )
            out.append(
                MetricSeries(
                    resource_id=rid,
                    name=name,
                    unit=str(metric.get("unit", "")),
                    interval=interval,
                    points=points,
                    dimensions=dims,
                    columns=series_columns(points) if columns else None,
                )
            )
    return out


def by_name(series: Sequence[MetricSeries]) -> dict[str, MetricSeries]:
    """Index a resource's series by metric name (the first timeseries of each)."""
    out: dict[str, MetricSeries] = {}
    for s in series:
        out.setdefault(s.name, s)
    return out
