"""Cost Management export ``manifest.json`` (manifestVersion 2024-04-01), read tolerantly.

Every field may be missing: the run id falls back to the manifest's folder name,
the part list to the data files beside the manifest. Blob names are cleaned of
the stray spaces Microsoft's documented example carries (``" folder/x/ 0000/part0.csv"``).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DATA_SUFFIXES",
    "Manifest",
    "ManifestError",
    "clean_blob_name",
    "is_data_file",
    "parse_manifest",
    "safe_blob_name",
]

DATA_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet", ".snappy.parquet")


class ManifestError(ValueError):
    """manifest.json is not JSON or not an object."""


def is_data_file(name: str) -> bool:
    n = name.lower()
    return n.endswith(DATA_SUFFIXES) and not n.endswith("manifest.json")


def clean_blob_name(name: str) -> str:
    return "/".join(seg.strip() for seg in name.strip().split("/") if seg.strip())


def safe_blob_name(name: str, *, what: str = "blob name") -> str:
    """``name`` cleaned (surrounding spaces and one leading ``/`` dropped), or :class:`ManifestError`
    when it could leave its export root: a ``.`` or ``..`` segment (the Storage SDK and HTTP collapse
    them, so ``../other-container/x`` reads another container), an empty segment, a backslash, a
    percent sign or a control character. Blob names are relative to the export container's root."""
    text = name.strip()
    if any(ch in text for ch in "\\%") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ManifestError(f"{what} {text[:200]!r} holds a backslash, % or a control character: refused")
    segments = [seg.strip() for seg in text.removeprefix("/").split("/")]
    if not text or any(seg in ("", ".", "..") for seg in segments):
        raise ManifestError(f"{what} {text[:200]!r} has an empty, '.' or '..' segment: it must stay inside its root")
    return "/".join(segments)


@dataclass(frozen=True, slots=True)
class Manifest:
    path: str  # where the manifest was read from (local path or blob path), posix style
    run_id: str
    submitted: str
    dataset_type: str | None
    data_version: str | None
    export_name: str | None
    scope_resource_id: str | None
    start: str | None
    end: str | None
    file_format: str | None
    compression: str | None
    blobs: tuple[str, ...] = field(default_factory=tuple)
    row_counts: tuple[int | None, ...] = field(default_factory=tuple)

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)

    def scope(self) -> str | None:
        """The export's scope (billing account, profile or subscription) from exportConfig.resourceId."""
        rid = (self.scope_resource_id or "").replace(" ", "")
        if not rid:
            return None
        lower = rid.lower()
        cut = lower.find("/providers/microsoft.costmanagement/exports")
        scope = rid[:cut] if cut >= 0 else rid
        return scope.rstrip("/").rsplit("/", 1)[-1] or None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def parse_manifest(data: bytes, path: str) -> Manifest:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{path}: manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestError(f"{path}: manifest.json is not a JSON object")
    folder = posixpath.dirname(path.replace("\\", "/"))
    run_id = _get(doc, "runInfo", "runId") or posixpath.basename(folder) or "unknown-run"
    blobs: list[str] = []
    counts: list[int | None] = []
    for b in doc.get("blobs") or []:
        if isinstance(b, dict) and b.get("blobName"):
            blobs.append(safe_blob_name(str(b["blobName"]), what=f"{path}: blobName"))
            rc = b.get("dataRowCount")
            counts.append(int(rc) if isinstance(rc, int) else None)
    return Manifest(
        path=path.replace("\\", "/"),
        run_id=str(run_id).strip(),
        submitted=str(_get(doc, "runInfo", "submittedTime") or ""),
        dataset_type=_get(doc, "exportConfig", "type"),
        data_version=_get(doc, "exportConfig", "dataVersion"),
        export_name=_get(doc, "exportConfig", "exportName"),
        scope_resource_id=_get(doc, "exportConfig", "resourceId"),
        start=_get(doc, "runInfo", "startDate"),
        end=_get(doc, "runInfo", "endDate"),
        file_format=_get(doc, "deliveryConfig", "fileFormat"),
        compression=_get(doc, "deliveryConfig", "compressionMode"),
        blobs=tuple(blobs),
        row_counts=tuple(counts),
    )
