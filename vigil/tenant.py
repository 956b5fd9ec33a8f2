"""An offline tenant: a folder holding data exactly as Azure returns it.

Layout (see docs/tenant-layout.md)::

    <tenant>/
      resources/   ARM GET responses (one resource per file) or ARM list responses ({"value": [...]})
      metrics/     Azure Monitor metrics REST responses, one file per resource
      exports/     a Cost Management export container: <dir>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>/
                   part_*.csv[.gz]|.parquet beside manifest.json (manifestVersion 2024-04-01)
      events/      Event Grid deliveries: JSON arrays of events (Event Grid schema or CloudEvents)
      activity/    Activity Log REST responses or pages ({"value": [...], "nextLink"?}) and Log Analytics
                   query answers over the AzureActivity table ({"tables": [{"columns", "rows"}]})
      policy/      optional: Azure Policy assignments and exemptions and the custom definitions and
                   initiatives they use, as ``az policy ... show/list`` print them
      focus/       optional: FOCUS exports of other clouds as delivered (AWS Data Exports, Google Cloud's
                   BigQuery FOCUS export as CSV or Parquet): every data file below it is ingested
      tenant.json  optional: {"now": "<ISO time the data ends>", "generator": ...}

:class:`TenantFolder` implements every protocol of :mod:`core.sources`. Files are
read lazily and once; a malformed file raises :class:`~core.sources.SourceError`
naming the file and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from core.sources import CostExportRun, MetricSeries, SourceError, parse_metrics_response
from core.timeutil import parse_utc

__all__ = ["TenantFolder", "canonical_id"]

# Aliases: TenantFolder.list (the ResourceSource method) shadows the builtin inside the class.
_Resources = list[dict[str, Any]]
_Series = list[MetricSeries]
_Runs = list[CostExportRun]
_Paths = list[Path]

SUBDIRS = ("resources", "metrics", "exports", "events", "activity", "focus", "policy")


def canonical_id(resource_id: str) -> str:
    return resource_id.strip().lower().rstrip("/")


def _load_json(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: invalid JSON: {exc}") from None


def _json_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def _unwrap_response(doc: Any) -> Any:
    """Accept REST-spec example files ({"parameters":..,"responses":{"200":{"body":..}}})."""
    if isinstance(doc, dict) and "responses" in doc and "parameters" in doc:
        responses = doc["responses"]
        for code in ("200", "201"):
            if isinstance(responses, dict) and code in responses:
                return responses[code].get("body")
    return doc


def _resources_in(doc: Any, path: Path) -> list[dict[str, Any]]:
    doc = _unwrap_response(doc)
    if isinstance(doc, list):
        items: list[Any] = doc
    elif isinstance(doc, dict) and isinstance(doc.get("value"), list):
        items = doc["value"]  # ARM list response
    elif isinstance(doc, dict) and isinstance(doc.get("data"), list):
        items = doc["data"]  # Resource Graph response (objectArray)
    elif isinstance(doc, dict):
        items = [doc]
    else:
        raise SourceError(f"{path}: expected an ARM resource object or a list response")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise SourceError(f"{path}: resource [{i}] has no string 'id'")
        out.append(item)
    return out


class TenantFolder:
    """Offline source over a tenant folder. Implements ResourceSource, MetricsSource,
    CostSource, EventSource and ActivitySource."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"{self.root}: tenant folder does not exist")
        if not any((self.root / d).is_dir() for d in SUBDIRS):
            raise SourceError(f"{self.root}: not a tenant folder (none of {', '.join(SUBDIRS)}/ present)")

    # -- metadata ---------------------------------------------------------------

    @cached_property
    def meta(self) -> dict[str, Any]:
        path = self.root / "tenant.json"
        if not path.exists():
            return {}
        doc = _load_json(path)
        if not isinstance(doc, dict):
            raise SourceError(f"{path}: expected a JSON object")
        return doc

    @property
    def now(self) -> datetime | None:
        """The instant the data ends, when the folder says so (simulated tenants do)."""
        value = self.meta.get("now")
        if not value:
            return None
        try:
            return parse_utc(str(value))
        except ValueError:
            raise SourceError(f"{self.root / 'tenant.json'}: 'now' is not ISO 8601: {value!r}") from None

    # -- ResourceSource ---------------------------------------------------------

    @cached_property
    def _resources(self) -> dict[str, dict[str, Any]]:
        index: dict[str, dict[str, Any]] = {}
        for path in _json_files(self.root / "resources"):
            for res in _resources_in(_load_json(path), path):
                index[canonical_id(res["id"])] = res
        return index

    def get(self, resource_id: str) -> dict[str, Any] | None:
        return self._resources.get(canonical_id(resource_id))

    def list(self, types: Iterable[str] | None = None) -> _Resources:
        wanted = {t.lower() for t in types} if types is not None else None
        return [r for r in self._resources.values() if wanted is None or str(r.get("type", "")).lower() in wanted]

    # -- Azure Policy -----------------------------------------------------------

    def policy_documents(self) -> Any:
        """The ``policy/`` folder's assignments, exemptions, definitions and initiatives
        (``detectors.drift.assignments.PolicyDocuments``; empty without the folder). A bad
        document raises ``PolicyLoadError`` naming the file and JSON path."""
        from detectors.drift.assignments import PolicyDocuments, load_policy_documents

        folder = self.root / "policy"
        return load_policy_documents([folder]) if folder.is_dir() else PolicyDocuments()

    # -- MetricsSource ----------------------------------------------------------

    @cached_property
    def _metrics(self) -> dict[str, _Series]:
        index: dict[str, _Series] = {}
        for path in _json_files(self.root / "metrics"):
            doc = _unwrap_response(_load_json(path))
            if isinstance(doc, dict) and "response_body" in doc:  # recorded cassette
                doc = doc["response_body"]
            if not isinstance(doc, Mapping):
                raise SourceError(f"{path}: expected a metrics response object")
            for s in parse_metrics_response(doc, source=str(path)):
                index.setdefault(s.resource_id, []).append(s)
        return index

    def series(self, resource_id: str, names: Iterable[str] | None = None) -> _Series:
        found = self._metrics.get(canonical_id(resource_id), [])
        if names is None:
            return found.copy()
        wanted = {n.lower() for n in names}
        return [s for s in found if s.name.lower() in wanted]

    def all_series(self, names: Iterable[str] | None = None) -> dict[str, _Series]:
        wanted = {n.lower() for n in names} if names is not None else None
        out: dict[str, _Series] = {}
        for rid, series in self._metrics.items():
            keep = [s for s in series if wanted is None or s.name.lower() in wanted]
            if keep:
                out[rid] = keep
        return out

    # -- CostSource -------------------------------------------------------------

    @property
    def exports_root(self) -> Path:
        """The export container's root: manifests' ``blobName`` values are relative to it."""
        return self.root / "exports"

    def runs(self) -> _Runs:
        out: _Runs = []
        root = self.exports_root
        if not root.is_dir():
            return out
        for manifest_path in sorted(root.rglob("manifest.json")):
            manifest = _load_json(manifest_path)
            if not isinstance(manifest, dict):
                raise SourceError(f"{manifest_path}: manifest must be a JSON object")
            blobs = manifest.get("blobs")
            if not isinstance(blobs, list):
                raise SourceError(f"{manifest_path}: 'blobs' must be a list")
            parts = []
            for i, blob in enumerate(blobs):
                name = blob.get("blobName") if isinstance(blob, dict) else None
                if not isinstance(name, str):
                    raise SourceError(f"{manifest_path}: blobs[{i}].blobName missing")
                parts.append(self._resolve_blob(manifest_path, name, i))
            out.append(CostExportRun(manifest_path=manifest_path, manifest=manifest, part_paths=tuple(parts)))
        out.sort(key=lambda r: (str(r.manifest.get("runInfo", {}).get("submittedTime", "")), str(r.manifest_path)))
        return out

    def _resolve_blob(self, manifest_path: Path, blob_name: str, index: int) -> Path:
        from ingest.cost.manifest import ManifestError, safe_blob_name

        try:
            clean = safe_blob_name(blob_name, what=f"{manifest_path}: blobs[{index}].blobName")
        except ManifestError as exc:
            raise SourceError(str(exc)) from None
        root = self.exports_root.resolve()
        for candidate in (self.exports_root / clean, manifest_path.parent / Path(clean).name):
            if not candidate.is_file():
                continue
            if not candidate.resolve().is_relative_to(root):  # a symlink out of the export root
                raise SourceError(
                    f"{manifest_path}: blobs[{index}].blobName resolves outside {self.exports_root}: the run is refused"
                )
            return candidate
        raise SourceError(f"{manifest_path}: blobs[{index}].blobName {blob_name!r} not found under {self.exports_root}")

    def focus_files(self) -> _Paths:
        """Data files of other clouds' FOCUS exports under ``focus/`` (sorted; none when absent)."""
        from ingest.cost.manifest import is_data_file

        root = self.root / "focus"
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*") if p.is_file() and is_data_file(p.name))

    # -- EventSource ------------------------------------------------------------

    def events(self) -> Iterator[dict[str, Any]]:
        for path in _json_files(self.root / "events"):
            doc = _load_json(path)
            items = doc if isinstance(doc, list) else [doc]
            for i, ev in enumerate(items):
                if not isinstance(ev, dict):
                    raise SourceError(f"{path}: event [{i}] is not a JSON object")
                yield ev

    # -- ActivitySource ---------------------------------------------------------

    def entries(self) -> Iterator[dict[str, Any]]:
        """Activity Log ``EventData`` records, in file-name order; an ``AzureActivity`` row becomes the same
        shape (``ingest.activity.records``). A record in several files (both sources hold it) is given once,
        by ``eventDataId``."""
        from ingest.activity.records import rows_of_table

        seen: set[str] = set()
        for path in _json_files(self.root / "activity"):
            doc = _unwrap_response(_load_json(path))
            if isinstance(doc, dict) and isinstance(doc.get("tables"), list):
                items: list[Any] = []
                for t, table in enumerate(doc["tables"]):
                    columns = table.get("columns") if isinstance(table, dict) else None
                    rows = table.get("rows") if isinstance(table, dict) else None
                    if not isinstance(columns, list) or not isinstance(rows, list):
                        raise SourceError(f"{path}: tables[{t}] needs 'columns' and 'rows' lists")
                    names = [c.get("name") if isinstance(c, dict) else None for c in columns]
                    if not all(isinstance(n, str) for n in names):
                        raise SourceError(f"{path}: tables[{t}].columns: every column needs a 'name'")
                    for r, row in enumerate(rows):
                        if not isinstance(row, list):
                            raise SourceError(f"{path}: tables[{t}].rows[{r}] is not a list")
                    items += rows_of_table([str(n) for n in names], rows)
                where = "tables[].rows"
            else:
                value = doc.get("value") if isinstance(doc, dict) else doc
                if not isinstance(value, list):
                    raise SourceError(
                        f"{path}: expected an Activity Log response with 'value' or a query answer with 'tables'"
                    )
                items, where = value, "value"
            for i, entry in enumerate(items):
                if not isinstance(entry, dict):
                    raise SourceError(f"{path}: {where}[{i}] is not a JSON object")
                eid = entry.get("eventDataId")
                if isinstance(eid, str) and eid:
                    if eid in seen:
                        continue
                    seen.add(eid)
                yield entry
