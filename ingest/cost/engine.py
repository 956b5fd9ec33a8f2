"""Ingest one export file into the store (shared by the CLI path and the Function path).

The file is streamed batch by batch: read (strings) -> normalize -> append to one
Parquet file per (scope, month, dataset) partition under the run's folder. The three
stages overlap on bounded threads (parse and normalise each run ahead on a producer
thread, Parquet writes run behind on a writer thread; at most a few ~131k-row batches
wait between stages, so memory stays flat whatever the file size). Exact totals are
accumulated as Decimal from the decimal128 cost columns. Bad rows go to the quarantine
with file, line, column and reason; a file that cannot be read at all is discarded
whole and reported.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ingest.cost.arrow_util import single_value, str_scalar
from ingest.cost.columns import Detected, UnknownHeaderError, detect
from ingest.cost.prefetch import prefetch
from ingest.cost.reader import MAX_REJECTED_ROWS, FileFormatError, SourceFile
from ingest.cost.store import CostStore, Partition, PartWriter, scope_key

__all__ = ["FileResult", "PartitionStats", "Quarantine", "ingest_file"]

log = logging.getLogger(__name__)
_FLUSH_ROWS = 65_536
_PREFETCH = 1  # parsed (and normalized) batches waiting at most (~131k rows each, reader._BATCH_ROWS): bounds memory
_WRITE_AHEAD = 2  # Parquet writes queued at most (a batch each)


@dataclass
class PartitionStats:
    rows: int = 0
    billed_cost: dict[str, Decimal] = field(default_factory=dict)
    effective_cost: dict[str, Decimal] = field(default_factory=dict)
    days: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    providers: set[str] = field(default_factory=set)  # ProviderName values seen (AWS, Google Cloud, Microsoft)

    def merge(self, other: PartitionStats) -> None:
        self.rows += other.rows
        for mine, theirs in ((self.billed_cost, other.billed_cost), (self.effective_cost, other.effective_cost)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, Decimal(0)) + v
        self.days |= other.days
        self.providers |= other.providers
        self.files.extend(f for f in other.files if f not in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "billed_cost": {k: str(v) for k, v in self.billed_cost.items()},
            "effective_cost": {k: str(v) for k, v in self.effective_cost.items()},
            "days": sorted(self.days),
            "files": list(self.files),
            "providers": sorted(self.providers),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PartitionStats:
        return cls(
            rows=int(d.get("rows", 0)),
            billed_cost={k: Decimal(v) for k, v in d.get("billed_cost", {}).items()},
            effective_cost={k: Decimal(v) for k, v in d.get("effective_cost", {}).items()},
            days=set(d.get("days", [])),
            files=list(d.get("files", [])),
            providers=set(d.get("providers", [])),
        )


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")  # repr()s of values in reasons


class Quarantine:
    """Collects rejected records as JSON lines; ``sink`` receives each line (or they are kept in memory)."""

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self._sink = sink
        self.lines: list[str] = []
        self.count = 0

    def add(self, file: str, line: int | None, column: str | None, reason: str, record: Any) -> None:
        self.count += 1
        entry = json.dumps(
            {"file": file, "line": line, "column": column, "reason": reason, "record": record},
            ensure_ascii=False,
            default=str,
        )
        if self.count <= 20:
            log.warning(  # the record and its values go to the quarantine file, never to the log
                "cost row rejected: %s line %s column %s: %s",
                file,
                line if line is not None else "?",
                column or "-",
                _QUOTED.sub("<value>", reason),
            )
        if self._sink is not None:
            self._sink(entry)
        else:
            self.lines.append(entry)


@dataclass
class FileResult:
    name: str
    rows: int = 0
    rejected: int = 0
    error: str | None = None
    detected: Detected | None = None
    partitions: dict[Partition, PartitionStats] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def _line_of(record_index: int, ragged_lines: list[int]) -> int:
    """Physical line of the record_index-th good record (header is line 1; one line per record)."""
    line = record_index + 2
    for r in ragged_lines:  # sorted; each skipped ragged line pushes later records down by one
        if r <= line:
            line += 1
        else:
            break
    return line


def ingest_file(
    src: SourceFile,
    store: CostStore,
    *,
    run_id: str,
    run_key: str,
    file_tag: str,
    quarantine: Quarantine,
    manifest_type: str | None = None,
    data_version: str | None = None,
    default_scope: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> FileResult:
    import pyarrow as pa
    import pyarrow.compute as pc

    from ingest.cost.normalize import FRAME_SCHEMA, Normalizer, conform

    result = FileResult(name=src.name)
    records_seen = 0
    writers: dict[Partition, PartWriter] = {}
    buffers: dict[Partition, list[pa.Table]] = {}
    buffered: dict[Partition, int] = {}
    schemas: dict[Partition, pa.Schema] = {}  # each file's Parquet schema: its first batch's (text may be dictionary)
    writes = _WriteBehind()
    try:
        header = src.header()
        det = detect(header, manifest_type=manifest_type, data_version=data_version, hint=src.name)
        result.detected = det
        norm = Normalizer(det, run_id=run_id, source_file=src.name, default_scope=default_scope)
        records_seen = 0
        pending_rejects: list[tuple[int, str, str, Any]] = []
        # Three stages overlap, each bounded (memory stays flat): the parse of only the columns the
        # normalizer reads (producer thread), normalisation (a second producer thread) and, here,
        # partitioning and the Parquet writes (handed to a write-behind thread).
        for n_records, table, rejected in prefetch(_normalized(src, norm), depth=_PREFETCH, name="vigil-normalize"):
            for row, column, reason, rec in rejected:
                pending_rejects.append((records_seen + row, column, reason, rec))
            if len(pending_rejects) + len(src.ragged) > MAX_REJECTED_ROWS:
                raise FileFormatError(
                    f"{src.name}: more than {MAX_REJECTED_ROWS} rejected rows; the file is refused "
                    "(first problem: " + (pending_rejects[0][2][:120] if pending_rejects else "ragged rows") + ")"
                )
            records_seen += n_records
            if table.num_rows == 0:
                continue
            scope_1, month_1 = single_value(table["_scope"]), single_value(table["_month"])
            if scope_1 is not None and month_1 is not None:  # one partition (a monthly export's batch)
                key_col, keys = None, [f"{scope_1.as_py()}\x1f{month_1.as_py()}"]
            else:
                key_col = pc.binary_join_element_wise(table["_scope"], table["_month"], str_scalar("\x1f"))
                keys = pc.unique(key_col).to_pylist()
            for key in keys:
                scope, month = key.split("\x1f", 1)
                part = Partition(scope_key(scope), month, det.dataset)
                sub = table if key_col is None or len(keys) == 1 else table.filter(pc.equal(key_col, str_scalar(key)))
                stats = result.partitions.setdefault(part, PartitionStats())
                _accumulate(stats, sub)
                stats.rows += sub.num_rows
                result.rows += sub.num_rows
                frame = sub.select(FRAME_SCHEMA.names)
                buffers.setdefault(part, []).append(conform(frame, schemas.setdefault(part, frame.schema)))
                buffered[part] = buffered.get(part, 0) + sub.num_rows
                if buffered[part] >= _FLUSH_ROWS:
                    _flush(store, part, run_key, file_tag, writers, buffers, buffered, stats, writes, schemas[part])
            if on_rows is not None:
                on_rows(n_records)
        for part in list(buffers):
            _flush(
                store,
                part,
                run_key,
                file_tag,
                writers,
                buffers,
                buffered,
                result.partitions[part],
                writes,
                schemas[part],
            )
        writes.drain()
        for w in writers.values():
            w.close()
        if src.ragged:
            src.resolve_ragged_lines()
        ragged_lines = sorted(r.line for r in src.ragged if r.line is not None)
        for record_index, column, reason, rec in sorted(pending_rejects, key=lambda x: x[0]):
            quarantine.add(src.name, _line_of(record_index, ragged_lines), column, reason, rec)
            result.rejected += 1
        for r in sorted(src.ragged, key=lambda r: r.line or 0):
            reason = f"ragged row: expected {r.expected} columns, found {r.actual}"
            quarantine.add(src.name, r.line, None, reason, r.text)
            result.rejected += 1
    except (FileFormatError, UnknownHeaderError) as exc:
        writes.drain(raise_errors=False)  # no write may still run on a file that is aborted below
        for w in writers.values():
            w.abort()
            store.blobs.delete(w.path)
        msg = str(exc) if str(exc).startswith(src.name) else f"{src.name}: {exc}"
        if isinstance(exc, FileFormatError) and records_seen:
            msg += f" (after at least {records_seen} readable records; the whole file was discarded)"
        log.error("cost file not ingested: %s", msg)
        return FileResult(name=src.name, error=msg, detected=result.detected)
    finally:
        writes.close()
    return result


def _normalized(src: SourceFile, norm: Any) -> Iterator[tuple[int, Any, list[tuple[int, str, str, Any]]]]:
    """(records read, normalized table, rejected rows) per parsed batch; the parse runs one thread ahead.

    Each rejected row comes once (its first problem) as (index in the batch, column, reason, record).
    """
    for parsed in prefetch(src.parsed(norm.columns()), depth=_PREFETCH, name="vigil-parse"):
        batch = src.checked(parsed)
        table, rejects = norm.normalize(batch)
        rejected: list[tuple[int, str, str, Any]] = []
        seen_rows: set[int] = set()
        for rej in rejects:
            if rej.row in seen_rows:
                continue  # one quarantine entry per row (its first problem)
            seen_rows.add(rej.row)
            rejected.append((rej.row, rej.column, rej.reason, batch.slice(rej.row, 1).to_pylist()[0]))
        yield batch.num_rows, table, rejected


class _WriteBehind:
    """Parquet writes on one background thread, in submission order, at most ``_WRITE_AHEAD`` pending.

    Arrow releases the GIL while it encodes and compresses, so the write overlaps the next batch's
    normalisation. An error in a write is raised in the caller at the next submit or at ``drain``.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()

    def submit(self, fn: Callable[[], None]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-write")
        self._pending.append(self._pool.submit(fn))
        while len(self._pending) > _WRITE_AHEAD:
            self._pending.popleft().result()

    def drain(self, *, raise_errors: bool = True) -> None:
        while self._pending:
            fut = self._pending.popleft()
            try:
                fut.result()
            except Exception:
                if raise_errors:
                    raise

    def close(self) -> None:
        self.drain(raise_errors=False)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _accumulate(stats: PartitionStats, table: Any) -> None:
    """Exact per-currency sums (decimal128 -> Decimal) and the days covered.

    Plain compute kernels rather than Table.group_by, which would import pandas.
    """
    import pyarrow.compute as pc

    currencies = pc.unique(table["BillingCurrency"]).to_pylist()
    for cur in currencies:
        sub = table if len(currencies) == 1 else table.filter(pc.equal(table["BillingCurrency"], str_scalar(cur)))
        for col, acc in (("BilledCost", stats.billed_cost), ("EffectiveCost", stats.effective_cost)):
            if sub[col].null_count == sub.num_rows:
                continue
            total = pc.sum(sub[col]).as_py()
            if total is not None:
                acc[cur] = acc.get(cur, Decimal(0)) + total
    stats.days.update(pc.unique(table["_day"]).to_pylist())
    stats.providers.update(p for p in pc.unique(table["ProviderName"]).to_pylist() if p)


def _flush(  # noqa: PLR0917 - private helper sharing the caller's write state
    store: CostStore,
    part: Partition,
    run_key: str,
    file_tag: str,
    writers: dict[Partition, PartWriter],
    buffers: dict[Partition, list[Any]],
    buffered: dict[Partition, int],
    stats: PartitionStats,
    writes: _WriteBehind,
    schema: Any,
) -> None:
    import pyarrow as pa

    tables = buffers.pop(part, [])
    buffered.pop(part, None)
    if not tables:
        return
    w = writers.get(part)
    if w is None:
        path = store.run_path(part, run_key, f"{file_tag}.parquet")
        w = writers[part] = store.open_writer(path, schema)
        stats.files.append(path)
    table = pa.concat_tables(tables)
    writes.submit(lambda: w.write(table))
