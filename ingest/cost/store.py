"""The normalized cost store: Parquet partitioned by scope, billing month and dataset.

Layout (inside a local folder or a blob container, through :class:`BlobStore`)::

    scope=<billing account or subscription>/month=<YYYY-MM>/dataset=<actual|amortized|focus>/
        runs/<run key>/<file>.parquet     data of one export run, written aside
        _current.json                     pointer to the live run: written last, atomically

A run becomes visible only when ``_current.json`` is replaced, so a crash while
writing leaves the previous run intact. A newer run (by submitted time) replaces an
older one for the same partition; an older run never replaces a newer one; the same
run written again yields the same data. Files of a replaced run are deleted after
the swap (best effort).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.runtime import LocalBlobStore

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from core.runtime import BlobStore

__all__ = ["CostStore", "Partition", "load_costs", "scope_key"]

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
POINTER = "_current.json"


def _parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Snappy; dictionary encoding for string columns only; statistics for the time column only
    (what readers filter on). About a third cheaper to write than pyarrow's defaults.

    A dictionary-encoded text column (the ingest hands some over so) is stored as the same Parquet text
    column, without the Arrow schema, which would make every reader get it back dictionary-encoded: read
    without it, the file has the plain cost frame's types, as files written before do."""
    import pyarrow as pa

    dicts = [f.name for f in schema if pa.types.is_dictionary(f.type) and pa.types.is_string(f.type.value_type)]
    strings = [f.name for f in schema if pa.types.is_string(f.type)] + dicts
    stats = [n for n in ("ChargePeriodStart",) if n in schema.names]
    options: dict[str, Any] = {"compression": "snappy", "use_dictionary": strings, "write_statistics": stats}
    if dicts:
        options["store_schema"] = False
    return options


_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def scope_key(scope: str) -> str:
    """A path-safe partition key for a billing account or subscription id."""
    key = _UNSAFE.sub("_", scope.strip().lower()).strip("_")
    return key or "unknown"


class Partition(tuple[str, str, str]):
    """(scope key, month YYYY-MM, dataset)."""

    __slots__ = ()

    def __new__(cls, scope: str, month: str, dataset: str) -> Partition:
        return super().__new__(cls, (scope, month, dataset))

    @property
    def prefix(self) -> str:
        return f"scope={self[0]}/month={self[1]}/dataset={self[2]}/"

    @classmethod
    def from_prefix(cls, path: str) -> Partition | None:
        m = re.match(r"^scope=([^/]+)/month=([^/]+)/dataset=([^/]+)/", path)
        return cls(m.group(1), m.group(2), m.group(3)) if m else None


def _when(value: Any) -> datetime:
    """A run's submitted time for ordering (unparseable or missing sorts first)."""
    try:
        dt = datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class CostStore:
    """Reads and writes normalized cost partitions in a :class:`BlobStore`."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    # -- writing ----------------------------------------------------------------------------------------------------
    def run_path(self, part: Partition, run_key: str, name: str) -> str:
        return f"{part.prefix}runs/{run_key}/{name}"

    def write_table(self, path: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if isinstance(self.blobs, LocalBlobStore):
            local = self.blobs.local_path(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(".tmp-" + local.name)
            pq.write_table(table, tmp, **_parquet_options(table.schema))
            os.replace(tmp, local)
            return
        buf = io.BytesIO()
        pq.write_table(table, buf, **_parquet_options(table.schema))
        self.blobs.write(path, buf.getvalue())

    def open_writer(self, path: str, schema: pa.Schema) -> PartWriter:
        return PartWriter(self, path, schema)

    def current(self, part: Partition) -> dict[str, Any] | None:
        path = part.prefix + POINTER
        if not self.blobs.exists(path):
            return None
        try:
            value: dict[str, Any] = json.loads(self.blobs.read(path))
        except (OSError, ValueError):
            return None
        return value

    def swap(self, part: Partition, pointer: Mapping[str, Any]) -> bool:
        """Make ``pointer``'s run live for ``part`` unless a newer run is already live.

        Returns True when the pointer now names this run.
        """
        cur = self.current(part)
        if (
            cur is not None
            and cur.get("run_id") != pointer["run_id"]
            and _when(cur.get("submitted")) > _when(pointer.get("submitted"))
        ):
            log.info(
                "cost run not swapped in: a newer run is live",
                extra={"partition": part.prefix, "run_id": pointer["run_id"], "live_run": cur.get("run_id")},
            )
            return False
        body = dict(pointer)
        body["swapped_at"] = datetime.now(UTC).isoformat()
        self.blobs.write(part.prefix + POINTER, json.dumps(body, indent=1, sort_keys=True).encode())
        if cur is not None:
            keep = set(body.get("files", []))
            for f in cur.get("files", []):
                if f not in keep:
                    try:
                        self.blobs.delete(f)
                    except Exception:  # best effort: an orphan file is harmless, it is not referenced
                        log.warning("could not delete replaced cost file", extra={"path": f})
        return True

    # -- reading ----------------------------------------------------------------------------------------------------
    def partitions(self) -> list[tuple[Partition, dict[str, Any]]]:
        out = []
        for path in self.blobs.list(""):
            if path.endswith("/" + POINTER):
                part = Partition.from_prefix(path)
                if part is not None:
                    cur = self.current(part)
                    if cur is not None:
                        out.append((part, cur))
        return sorted(out, key=lambda x: x[0])

    def _source(self, path: str) -> Any:
        import pyarrow as pa

        return (
            self.blobs.local_path(path)
            if isinstance(self.blobs, LocalBlobStore)
            else pa.BufferReader(self.blobs.read(path))
        )

    def read_table(self, path: str, columns: Sequence[str] | None = None, filters: Any = None) -> pa.Table:
        """The file's ``columns``; a cost frame column that the file predates comes back all null.

        ``filters`` (a pyarrow compute expression) is pushed into the scan: row groups whose statistics
        rule them out are skipped, the other rows are filtered while reading.
        """
        import pyarrow.parquet as pq

        source = self._source(path)
        if columns is None:
            return pq.read_table(source, filters=filters)
        have = set(pq.read_schema(source).names)
        if hasattr(source, "seek"):
            source.seek(0)
        table = pq.read_table(source, columns=[c for c in columns if c in have], filters=filters)
        return _with_missing(table, columns, path)

    def iter_row_groups(
        self, path: str, columns: Sequence[str], filters: Any = None, *, dictionary: Sequence[str] = ()
    ) -> Iterator[pa.Table]:
        """The file's ``columns`` one row group at a time (memory bounded by a row group, not the file),
        ``filters`` applied to each; ``dictionary`` columns stay dictionary-encoded (one integer per row)."""
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self._source(path), read_dictionary=list(dictionary))
        have = set(pf.schema_arrow.names)
        present = [c for c in columns if c in have]
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i, columns=present)
            if filters is not None:
                table = table.filter(filters)
            if table.num_rows:
                yield _with_missing(table, columns, path, dictionary=dictionary)


def _with_missing(table: pa.Table, columns: Sequence[str], path: str, *, dictionary: Sequence[str] = ()) -> pa.Table:
    """``table`` with the cost frame ``columns`` it lacks added as nulls (a file written before the column
    existed, e.g. ProviderName: null, never guessed), in ``columns`` order."""
    import pyarrow as pa

    missing = [c for c in columns if c not in table.column_names]
    if not missing:
        return table.select(list(columns))
    from ingest.cost.normalize import FRAME_SCHEMA

    for name in missing:
        if name not in FRAME_SCHEMA.names:
            raise KeyError(f"{path}: no column {name}")
        typ = FRAME_SCHEMA.field(name).type
        col = pa.nulls(table.num_rows, typ)
        if name in dictionary:
            col = col.dictionary_encode()
        table = table.append_column(name, col)
    return table.select(list(columns))


class PartWriter:
    """Streams tables for one partition into one Parquet file (local) or a buffer (blob)."""

    def __init__(self, store: CostStore, path: str, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.store = store
        self.path = path
        self.rows = 0
        self._buf: io.BytesIO | None = None
        self._tmp: Path | None = None
        if isinstance(store.blobs, LocalBlobStore):
            local = store.blobs.local_path(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = local.with_name(".tmp-" + local.name)
            self._writer = pq.ParquetWriter(self._tmp, schema, **_parquet_options(schema))
        else:
            self._buf = io.BytesIO()
            self._writer = pq.ParquetWriter(self._buf, schema, **_parquet_options(schema))

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table, row_group_size=1 << 20)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._tmp is not None:
            assert isinstance(self.store.blobs, LocalBlobStore)
            os.replace(self._tmp, self.store.blobs.local_path(self.path))
        elif self._buf is not None:
            self.store.blobs.write(self.path, self._buf.getvalue())

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)


def _parse_bound(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if hasattr(v, "isoformat") and not isinstance(v, str):  # date
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    dt = datetime.fromisoformat(str(v))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# Summed when rows are aggregated; the others in _NOT_GROUPED / _PER_ROW do not add up across rows.
_SUMMED = ("BilledCost", "EffectiveCost")
_NOT_GROUPED = ("ChargePeriodStart", "BilledCost", "EffectiveCost", "ConsumedQuantity", "ConsumedUnit")
_PER_ROW = ("x_SourceRunId", "x_SourceFile")


def load_costs(
    data_dir: Path | BlobStore,
    *,
    start: Any = None,
    end: Any = None,
    scopes: Sequence[str] | None = None,
    aggregate: bool = False,
    categorical: bool = False,
) -> pd.DataFrame:
    """The live normalized costs as a DataFrame with exactly the core/costframe.py columns and dtypes.

    ``start`` (inclusive) and ``end`` (exclusive) filter on ChargePeriodStart, in the Parquet scan;
    ``scopes`` keeps only the given billing accounts or subscriptions (matched on the partition key or
    SubAccountId). Query API data (``dataset=api-*``) is skipped for a scope and month that has export data.

    ``aggregate=True`` is what detection and the digest read: rows that differ only in their meter,
    quantity or source are summed into one (per charge period and every label column: currency,
    provider, account, resource group, resource, service, categories, tags, ...), in Arrow, file by
    file, before anything reaches pandas. Every cost sum over the frame is unchanged; ``ConsumedQuantity``
    and ``ConsumedUnit`` are null (quantities of different meters do not add up) and ``x_SourceRunId`` /
    ``x_SourceFile`` read ``aggregate``. Memory then grows with the distinct resources per charge period,
    not with the export's rows. Files are read a row group at a time with the text columns
    dictionary-encoded, so a read holds one row group's integers, not the file's strings.

    ``categorical=True`` (with ``aggregate``; what detection reads) keeps the text columns as pandas
    categoricals (one small integer per row and each distinct value once) instead of the ``string``
    dtype's one Python string per row and column, which is what a long window's frame is made of.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from core.costframe import column_names, pandas_dtypes

    store = _store(data_dir)
    jobs = _scan_jobs(store, _parse_bound(start), _parse_bound(end), scopes)
    group_cols = [c for c in column_names() if c not in _NOT_GROUPED and c not in _PER_ROW]
    skipped = (*_PER_ROW, "ConsumedQuantity", "ConsumedUnit") if aggregate else ()
    read_cols = [c for c in column_names() if c not in skipped]
    text = [c for c in group_cols if pandas_dtypes()[c] == "string"]

    def one(job: tuple[str, Any]) -> pa.Table:
        if not aggregate:
            return store.read_table(job[0], columns=read_cols, filters=job[1])
        parts = [_aggregate(t, group_cols) for t in store.iter_row_groups(job[0], read_cols, job[1], dictionary=text)]
        return _aggregate_parts(parts, group_cols)

    tables = [t for t in map_files(one, jobs) if t.num_rows]
    dtypes = pandas_dtypes()
    if not tables:
        return pd.DataFrame({c: pd.Series([], dtype=dtypes[c]) for c in column_names()})
    if aggregate:
        table = _aggregate_parts(tables, group_cols)  # one key may come from several files
        del tables
        n = table.num_rows
        table = table.append_column("ConsumedQuantity", pa.nulls(n, pa.float64()))
        table = table.append_column("ConsumedUnit", pa.nulls(n, pa.string()))
        for name in _PER_ROW:
            table = table.append_column(name, pa.array(["aggregate"] * n, pa.string()))
    else:
        table = pa.concat_tables(tables)
        del tables
    # column by column, each Arrow column let go once converted, and no copy into the frame: the Arrow
    # table and a whole copy of the frame are never held at once
    arrow = {name: table[name] for name in column_names()}
    del table
    cols = {}
    for name in column_names():
        col = arrow.pop(name)
        if pa.types.is_decimal(col.type):
            col = pc.cast(col, pa.float64())
        elif pa.types.is_dictionary(col.type) and not categorical:
            col = col.cast(col.type.value_type)
        cols[name] = col.to_pandas()
        del col
    frame = pd.DataFrame(cols, copy=False)
    del cols
    # Arrow's allocator keeps the scan's freed pages for reuse; detection, which comes next, allocates
    # with numpy's. Handing them back took a full-size detect run's peak from prepare's to the scan's.
    pa.default_memory_pool().release_unused()
    if categorical and aggregate:
        return frame.astype({c: t for c, t in dtypes.items() if c not in text})
    return frame.astype(dtypes)


def _store(data_dir: Path | BlobStore) -> CostStore:
    return CostStore(LocalBlobStore(Path(data_dir)) if isinstance(data_dir, (str, Path)) else data_dir)


def _scan_jobs(
    store: CostStore, lo: datetime | None, hi: datetime | None, scopes: Sequence[str] | None
) -> list[tuple[str, Any]]:
    """(live file, scan filter) for every file that can hold rows in [lo, hi) of ``scopes``."""
    wanted = {scope_key(s) for s in scopes} if scopes else None
    # SubAccountId is stored as the source wrote it (lower case for Azure): match it either way
    wanted_subs = {v for s in scopes for v in (s.strip(), s.strip().lower())} if scopes else None
    jobs: list[tuple[str, Any]] = []
    parts = store.partitions()
    exported = {(p[0], p[1]) for p, _c in parts if not p[2].startswith("api-")}
    for part, cur in parts:
        if part[2].startswith("api-") and (part[0], part[1]) in exported:
            continue  # a scope+month with exports: the Query API copy would count it twice
        month_start = datetime.strptime(part[1] + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        if hi is not None and month_start >= hi:
            continue
        if (
            lo is not None
            and month_start.replace(year=month_start.year + (month_start.month == 12), month=month_start.month % 12 + 1)
            <= lo
        ):
            continue
        expr = _scan_filter(lo, hi, None if wanted is None or part[0] in wanted else wanted_subs)
        jobs.extend((f, expr) for f in cur.get("files", []))
    return jobs


def cost_accounts(data_dir: Path | BlobStore, *, start: Any = None, end: Any = None) -> list[str]:
    """The distinct non-empty ``SubAccountId`` values (subscriptions, AWS accounts, Google Cloud projects)
    of the live costs in [start, end), sorted: what detection fans out by. Reads that one column,
    dictionary-encoded, a row group at a time."""
    store = _store(data_dir)
    jobs = _scan_jobs(store, _parse_bound(start), _parse_bound(end), None)
    cols = ["SubAccountId", "ChargePeriodStart"]

    def one(job: tuple[str, Any]) -> set[str]:
        seen: set[str] = set()
        for t in store.iter_row_groups(job[0], cols, job[1], dictionary=["SubAccountId"]):
            seen.update(v for v in t["SubAccountId"].unique().dictionary_decode().to_pylist() if v)
        return seen

    return sorted(set().union(*map_files(one, jobs))) if jobs else []


# Files read at once: Arrow decodes and sums without the GIL, each reader holding a row group and its sums.
# On bench/scale's full-size store (100 days, 4.17 M aggregated rows) the load's peak was 1.39 GB with 1
# reader (9.3 s wall), 1.65 GB with 2 (6.6 s) and 2.02 to 2.04 GB with 4 (7.8 to 10.5 s), on the shared
# 2-core machine (docs/cost-scale.md).
_READERS = 2


def map_files(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``fn`` over ``items`` (files to read) on a few threads, results in order."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_READERS, len(items)), thread_name_prefix="vigil-read") as pool:
        return list(pool.map(fn, items))


def _scan_filter(lo: datetime | None, hi: datetime | None, subs: set[str] | None) -> Any:
    """The filter pushed into the Parquet scan (None: read everything)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ts = pa.timestamp("us", tz="UTC")
    terms = []
    if lo is not None:
        terms.append(pc.field("ChargePeriodStart") >= pa.scalar(lo, ts))
    if hi is not None:
        terms.append(pc.field("ChargePeriodStart") < pa.scalar(hi, ts))
    if subs is not None:
        terms.append(pc.field("SubAccountId").isin(sorted(subs)))
    if not terms:
        return None
    expr = terms[0]
    for t in terms[1:]:
        expr = expr & t
    return expr


def _aggregate_parts(tables: list[pa.Table], keys: list[str]) -> pa.Table:
    """The partial sums of ``tables`` (each one row per key) summed across them.

    A key includes its charge period, so only the rows of a charge period that two or more tables hold
    can share a key: those rows are summed again (their dictionaries unified first); every other row is
    already its key's sum and is passed through as it is (a file's row groups share at most the periods
    at their edges, different months' files none). Re-aggregating everything held the inputs, their
    unified copy, the hash table and the output at once: the peak of a long window's load. The result's
    dictionary columns may differ from chunk to chunk (pandas' conversion unifies them); its rows are the
    pass-through rows in input order, then the re-summed ones.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(tables) == 1:
        return tables[0]
    if not tables:
        return pa.table({})
    periods = pa.chunked_array([pc.unique(t["ChargePeriodStart"]) for t in tables])
    counts = pc.value_counts(periods)
    shared = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if not len(shared):
        return pa.concat_tables(tables)
    passed, again = [], []
    for t in tables:
        mask = pc.is_in(t["ChargePeriodStart"], value_set=shared)
        if not pc.any(mask).as_py():
            passed.append(t)
            continue
        again.append(_defined_null_indices(t.filter(mask)))
        rest = t.filter(pc.invert(mask))
        if rest.num_rows:
            passed.append(rest)
    return pa.concat_tables([*passed, _aggregate(pa.concat_tables(again).unify_dictionaries(), keys)])


def _defined_null_indices(table: pa.Table) -> pa.Table:
    """``table`` with the index under every null of a dictionary column set to 0, and an empty dictionary
    given one (unreferenced) entry.

    Arrow leaves the index under a null undefined, and ``group_by`` leaves it uninitialised, but pyarrow
    26's ``unify_dictionaries`` transposes it anyway: a garbage index read out of bounds and crashed the
    process (the demo's store, where AWS rows have null resource groups and regions). The values are
    unchanged; only the bytes under the nulls are defined."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        column = table.column(i)
        if not pa.types.is_dictionary(field.type) or column.null_count == 0:
            continue
        chunks = []
        for chunk in column.chunks:
            if chunk.null_count == 0:
                chunks.append(chunk)
                continue
            filled = pc.fill_null(chunk.indices, pa.scalar(0, chunk.indices.type))  # zeros under the nulls
            valid = pc.is_valid(chunk.indices)
            indices = pa.Array.from_buffers(
                chunk.indices.type,
                len(chunk),
                [valid.buffers()[1], filled.buffers()[1]],
                null_count=chunk.null_count,
                offset=filled.offset,
            )
            dictionary = chunk.dictionary if len(chunk.dictionary) else pa.array([""], field.type.value_type)
            chunks.append(pa.DictionaryArray.from_arrays(indices, dictionary))
        table = table.set_column(i, field, pa.chunked_array(chunks, field.type))
    return table


def _aggregate(table: pa.Table, keys: list[str]) -> pa.Table:
    """Sum the cost columns per charge period and label columns (null keys form their own group)."""
    out = table.group_by(["ChargePeriodStart", *keys], use_threads=False).aggregate([(c, "sum") for c in _SUMMED])
    # group_by leaves the index under a null key uninitialised: define it before anything unifies dictionaries
    return _defined_null_indices(out.rename_columns([c.removesuffix("_sum") for c in out.column_names]))


__all__ += ["PartWriter", "cost_accounts", "map_files"]
