"""The Function path: one queue message per export part, exactly once per run.

``plan_parts`` turns a manifest into one message per part (the BlobCreated handler
enqueues them). ``ingest_part`` normalizes one part into the destination container
under the run's folder, then records the part in the state store
(``Namespace.CHECKPOINTS``, ETag-conditional). The invocation whose record
completes the run swaps the run's partitions in (``_current.json`` pointers,
written last) and returns ``{"run_complete": True, "days": [...], ...}`` so the
caller can trigger detection for those days.

At-least-once delivery is safe: a part already recorded is skipped; a run whose
swap was interrupted is swapped again by the next delivery of any of its parts;
an older run never replaces a newer one (see :meth:`CostStore.swap`).

A part whose file cannot be read or parsed raises :class:`PartNotIngestedError` before
anything is recorded: the queue redelivers it (and keeps it in the poison queue after the
last attempt), and the run is not swapped in without it, so no day is reported short.
Bad *rows* of a readable file are quarantined and the part completes.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ingest.cost.engine import PartitionStats, Quarantine, ingest_file
from ingest.cost.manifest import ManifestError, is_data_file, parse_manifest, safe_blob_name
from ingest.cost.reader import FileFormatError, SourceFile
from ingest.cost.store import CostStore, Partition, scope_key

if TYPE_CHECKING:
    from core.runtime import BlobStore
    from core.state.base import StateStore

__all__ = [
    "MESSAGE_TYPE",
    "PartNotIngestedError",
    "export_event_refusal",
    "ingest_part",
    "plan_parts",
    "run_state_key",
]

log = logging.getLogger(__name__)
MESSAGE_TYPE = "cost-part"
_MAX_CAS = 50


class PartNotIngestedError(RuntimeError):
    """A part's file could not be read or parsed; the message names the file and the problem."""


def run_state_key(run_id: str) -> str:
    return "cost-run:" + scope_key(run_id)


def export_event_refusal(container: str, path: str, *, exports_container: str) -> str | None:
    """Why a BlobCreated event must not be read, or None: only the configured exports container is
    read (an event naming another, the host's secrets say, is refused) and the blob name must stay
    inside it (:func:`~ingest.cost.manifest.safe_blob_name`)."""
    if container != exports_container:
        return f"container {container[:63]!r} is not the configured exports container {exports_container!r}"
    try:
        safe_blob_name(path, what="blob")
    except ManifestError as exc:
        return str(exc)
    return None


def plan_parts(manifest_bytes: bytes, manifest_path: str) -> list[dict[str, Any]]:
    """One message per part listed in the manifest (one "all files beside it" message when none are)."""
    m = parse_manifest(manifest_bytes, manifest_path.lstrip("/"))
    parts: list[str | None] = list(m.blobs) or [None]
    base = {
        "type": MESSAGE_TYPE,
        "manifest_path": m.path,
        "run_id": m.run_id,
        "submitted": m.submitted,
        "dataset_type": m.dataset_type,
        "data_version": m.data_version,
        "scope": m.scope(),
        "part_count": len(parts),
    }
    out = []
    for i, blob in enumerate(parts):
        msg = dict(base)
        msg["part"] = blob
        msg["part_index"] = i
        if blob is not None and i < len(m.row_counts):
            msg["expected_rows"] = m.row_counts[i]
        out.append(msg)
    return out


def _resolve(source: BlobStore, manifest_path: str, blob: str) -> str:
    """The part's path in the source container: the manifest's blobName, else the same file name beside it."""
    if source.exists(blob):
        return blob
    return posixpath.join(posixpath.dirname(manifest_path), posixpath.basename(blob))


def _part_files(source: BlobStore, manifest_path: str, blob: str | None) -> list[str]:
    if blob is not None:
        return [_resolve(source, manifest_path, blob)]
    folder = posixpath.dirname(manifest_path)
    prefix = folder + "/" if folder else ""
    return sorted(p for p in source.list(prefix) if "/" not in p[len(prefix) :] and is_data_file(p))


def ingest_part(
    message: Mapping[str, Any], source_blobs: BlobStore, dest_blobs: BlobStore, store: StateStore
) -> dict[str, Any]:
    """Ingest one part (idempotent). Returns ``run_complete`` True from the invocation that finished the run."""
    from core.state.base import Namespace

    try:  # a message may be forged: its names are checked like the manifest's, before any read
        safe_blob_name(str(message["manifest_path"]), what="manifest_path")
        if message.get("part") is not None:
            safe_blob_name(str(message["part"]), what="part")
    except ManifestError as exc:
        log.error("cost part refused: %s", exc, extra={"run_id": message.get("run_id")})
        return {"run_complete": False, "refused": str(exc), "run_id": message.get("run_id")}
    run_id = str(message["run_id"])
    idx = int(message["part_index"])
    count = int(message["part_count"])
    key = run_state_key(run_id)
    costs = CostStore(dest_blobs)

    rec = store.get(Namespace.CHECKPOINTS, key)
    if rec is not None and str(idx) in rec.value.get("parts", {}):
        if len(rec.value["parts"]) >= int(rec.value.get("part_count", count)) and not rec.value.get("swapped"):
            return _finish(message, costs, store, key)
        return {"run_complete": False, "duplicate": True, "run_id": run_id, "part_index": idx}

    run_key = scope_key(run_id)
    q = Quarantine()
    entry: dict[str, Any] = {"rows": 0, "rejected": 0, "partitions": {}, "errors": []}
    for n, path in enumerate(_part_files(source_blobs, str(message["manifest_path"]), message.get("part"))):
        try:
            data = source_blobs.read(path)
        except (FileNotFoundError, OSError) as exc:
            entry["errors"].append(f"{path}: part not found: {exc}")
            continue
        try:
            src = SourceFile(name=path, data=data)
        except FileFormatError as exc:
            entry["errors"].append(str(exc))
            continue
        fr = ingest_file(
            src,
            costs,
            run_id=run_id,
            run_key=run_key,
            file_tag=f"part-{idx:05d}-{n:03d}",
            quarantine=q,
            manifest_type=message.get("dataset_type"),
            data_version=message.get("data_version"),
            default_scope=message.get("scope"),
        )
        if not fr.ok:
            entry["errors"].append(fr.error)
            continue
        entry["rows"] += fr.rows
        entry["rejected"] += fr.rejected
        for part, st in fr.partitions.items():
            prev = entry["partitions"].get(part.prefix)
            merged = PartitionStats.from_json(prev) if prev else PartitionStats()
            merged.merge(st)
            entry["partitions"][part.prefix] = merged.to_json()
    if q.lines:
        dest_blobs.write(f"_quarantine/{run_key}/part-{idx:05d}.jsonl", ("\n".join(q.lines) + "\n").encode())
        entry["quarantine"] = f"_quarantine/{run_key}/part-{idx:05d}.jsonl"
    for err in entry["errors"]:
        log.error("cost export part not ingested: %s", err, extra={"run_id": run_id, "part_index": idx})
    if entry["errors"]:
        raise PartNotIngestedError(f"cost run {run_id} part {idx}: " + "; ".join(entry["errors"]))

    complete = _record(store, key, run_id, idx, count, message, entry)
    if complete is None:
        return {"run_complete": False, "duplicate": True, "run_id": run_id, "part_index": idx}
    if not complete:
        return {"run_complete": False, "run_id": run_id, "part_index": idx, "rows": entry["rows"]}
    return _finish(message, costs, store, key)


def _record(  # noqa: PLR0917 - private helper
    store: StateStore, key: str, run_id: str, idx: int, count: int, message: Mapping[str, Any], entry: dict[str, Any]
) -> bool | None:
    """Add this part to the run record. True: run now complete; False: not yet; None: already recorded."""
    from core.state.base import Namespace
    from core.state.typed import UNCHANGED, Unchanged, update

    outcome: list[bool | None] = [None]

    def add_part(current: Mapping[str, Any] | None) -> Mapping[str, Any] | Unchanged:
        if current is None:
            outcome[0] = count <= 1
            submitted = message.get("submitted") or ""
            return {
                "run_id": run_id,
                "submitted": submitted,
                "part_count": count,
                "parts": {str(idx): entry},
                "swapped": False,
            }
        if str(idx) in current.get("parts", {}):
            outcome[0] = None
            return UNCHANGED
        parts = {**current.get("parts", {}), str(idx): entry}
        outcome[0] = len(parts) >= int(current.get("part_count", count))
        return {**current, "parts": parts}

    update(store, Namespace.CHECKPOINTS, key, add_part, attempts=_MAX_CAS)
    return outcome[0]


def _finish(message: Mapping[str, Any], costs: CostStore, store: StateStore, key: str) -> dict[str, Any]:
    """Swap every partition of the completed run in, then mark the run swapped."""
    from core.state.base import Namespace
    from core.state.typed import UNCHANGED, update

    rec = store.get(Namespace.CHECKPOINTS, key)
    assert rec is not None
    value = rec.value
    merged: dict[str, PartitionStats] = {}
    errors: list[str] = []
    rows = rejected = 0
    for entry in value.get("parts", {}).values():
        rows += int(entry.get("rows", 0))
        rejected += int(entry.get("rejected", 0))
        errors.extend(entry.get("errors", []))
        for prefix, st in entry.get("partitions", {}).items():
            merged.setdefault(prefix, PartitionStats()).merge(PartitionStats.from_json(st))
    run_id = str(value.get("run_id", message["run_id"]))
    applied = []
    days: set[str] = set()
    for prefix, st in sorted(merged.items()):
        part = Partition.from_prefix(prefix)
        assert part is not None
        pointer = {
            "run_id": run_id,
            "run_key": scope_key(run_id),
            "submitted": value.get("submitted", ""),
            "dataset": part[2],
            **st.to_json(),
        }
        if costs.swap(part, pointer):
            applied.append({"scope": part[0], "month": part[1], "dataset": part[2], "days": sorted(st.days)})
            days |= st.days
    update(
        store,
        Namespace.CHECKPOINTS,
        key,
        lambda cur: UNCHANGED if cur is None or cur.get("swapped") else {**cur, "swapped": True},
        attempts=_MAX_CAS,
    )
    first = applied[0] if applied else {}
    return {
        "run_complete": True,
        "run_id": run_id,
        "days": sorted(days),
        "scope": first.get("scope") or message.get("scope"),
        "month": first.get("month"),
        "partitions": applied,
        "rows": rows,
        "rows_rejected": rejected,
        "errors": errors,
    }
