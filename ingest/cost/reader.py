"""Streaming readers for export files: CSV (plain or gzip, with or without BOM) and Parquet.

Every reader yields Arrow record batches whose columns are strings, restricted to
the columns the normalizer needs, and never loads a whole file. Ragged CSV rows
are skipped by the parser and reported with their physical line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from ingest.cost.arrow_util import all_ascii

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "MAX_DECOMPRESSION_RATIO",
    "MAX_REJECTED_ROWS",
    "FileFormatError",
    "RaggedRow",
    "SourceFile",
    "sniff_format",
]

_BLOCK = 2 << 20  # small blocks parse fastest (cache-friendly); batches are coalesced below
# Rows per batch handed to the normaliser (and per Parquet row group). 131,072 rather than 65,536: a batch's
# distinct ids, tags and mapped values are encoded and looked up once per batch, so larger batches cost less
# CPU per row (about 0.1 s less per million rows, normalise and write; 262,144 saves little more for twice
# the memory). Measured on a generated 1M-row EA export of seed 101 (bench.ingest.generate), not a bench seed.
_BATCH_ROWS = 131_072
_THREADS = True

# Limits against hostile files (none is tuned on data; each is far above any real export):
# a file with more rejected rows than this fails as a whole, with a clear error, instead of
# filling memory and the quarantine (a 2.6 KB gzip of a million junk lines did both);
MAX_REJECTED_ROWS = 10_000
# a gzip part may not expand beyond this many bytes, nor beyond this ratio (with a floor of
# _RATIO_FLOOR bytes; zlib's own maximum is about 1032:1, real CSV compresses well under 50:1);
MAX_DECOMPRESSED_BYTES = 16 << 30
MAX_DECOMPRESSION_RATIO = 200
_RATIO_FLOOR = 64 << 20
# and a ragged row is kept for the quarantine up to this many characters.
_RAGGED_TEXT_MAX = 2000


class FileFormatError(ValueError):
    """A file cannot be read at all (corrupt gzip/Parquet, empty, not a table)."""


def safe_error(exc: BaseException) -> str:
    """A parser's error message without file contents: Arrow's CSV errors end with the offending
    row's text (``... got 1: <row>``), which must reach no log, checkpoint or API answer."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"(columns?, got \d+)\s*:.*$", r"\1", text)
    return text[:300]


class _LimitedGzip(io.RawIOBase):
    """A gzip stream that refuses to expand beyond ``limit`` bytes (a decompression bomb)."""

    def __init__(self, raw: IO[bytes], name: str, compressed: int) -> None:
        self._gz = gzip.GzipFile(fileobj=raw)
        self._name = name
        self.limit = min(MAX_DECOMPRESSED_BYTES, max(_RATIO_FLOOR, compressed * MAX_DECOMPRESSION_RATIO))
        self.total = 0
        self.exceeded = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._gz.readinto(b)
        self.total += n
        if self.total > self.limit:
            self.exceeded = True
            raise OSError(f"decompressed size exceeds {self.limit} bytes")
        return n

    def too_big(self) -> FileFormatError:
        return FileFormatError(
            f"{self._name}: the gzip file expands beyond {self.limit} bytes (at most {MAX_DECOMPRESSION_RATIO}x "
            f"its size, {MAX_DECOMPRESSED_BYTES} bytes in all): refused as a decompression bomb"
        )


@dataclass(frozen=True, slots=True)
class RaggedRow:
    line: int | None
    text: str
    expected: int
    actual: int


def sniff_format(name: str, head: bytes) -> str:
    """``csv``, ``csv.gz`` or ``parquet`` from magic bytes, falling back to the name."""
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    lname = name.lower()
    if lname.endswith(".parquet"):
        return "parquet"
    if lname.endswith(".gz"):
        return "csv.gz"
    return "csv"


def _coalesce(batches: list[pa.RecordBatch]) -> pa.Table:
    """Many small parsed blocks as one (chunked) table: one kernel call per column per ~64k rows, no copy."""
    return pa.Table.from_batches(batches)


@dataclass
class SourceFile:
    """One export file, given as a local path or as bytes (a blob)."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    ragged: list[RaggedRow] = field(default_factory=list)
    fmt: str = ""
    _checked: int = field(default=0, repr=False)  # records checked as UTF-8 so far (``checked``)

    def __post_init__(self) -> None:
        self.fmt = sniff_format(self.name, self._head())

    def _head(self) -> bytes:
        if self.data is not None:
            return self.data[:4]
        assert self.path is not None
        with self.path.open("rb") as fh:
            return fh.read(4)

    def _raw(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return self.path.open("rb")

    # -- header -----------------------------------------------------------------------------------------------------
    def header(self) -> list[str]:
        try:
            if self.fmt == "parquet":
                import pyarrow.parquet as pq

                return self._unique(list(pq.ParquetFile(self._arrow_source()).schema_arrow.names))
            with self._raw() as raw:
                stream: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw) if self.fmt == "csv.gz" else raw
                first = stream.readline(1 << 20)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            raise FileFormatError(f"{self.name}: cannot read {self.fmt} file: {safe_error(exc)}") from exc
        text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        if not text.strip():
            raise FileFormatError(f"{self.name}: line 1: empty file or missing header")
        return self._unique([h.strip() for h in next(csv.reader([text]))])

    def _unique(self, names: list[str]) -> list[str]:
        """The header, refused when a column name appears twice (case-insensitive): which one
        holds the data would otherwise be decided silently."""
        seen: dict[str, int] = {}
        for i, name in enumerate(names, start=1):
            key = name.lstrip("\ufeff").casefold()
            if key in seen and key:
                raise FileFormatError(
                    f"{self.name}: line 1: duplicate column {name[:60]!r} (columns {seen[key]} and {i}); "
                    "each column name must appear once"
                )
            seen[key] = i
        return names

    def _arrow_source(self) -> Any:
        if self.data is not None:
            return pa.BufferReader(self.data)
        return str(self.path)

    def resolve_ragged_lines(self) -> None:
        """Fill in the physical line numbers of ragged rows (the threaded parser does not know them).

        Only runs when ragged rows were found: rescans the file once, matching their text.
        """
        todo = [i for i, r in enumerate(self.ragged) if r.line is None]
        if not todo:
            return
        wanted: dict[str, deque[int]] = {}  # a deque: popping the first of a million is O(1)
        for i in todo:
            wanted.setdefault(self.ragged[i].text, deque()).append(i)
        with self._raw() as raw:
            stream: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw) if self.fmt == "csv.gz" else raw
            for lineno, line in enumerate(stream, start=1):
                text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
                hits = wanted.get(text[:_RAGGED_TEXT_MAX])
                if hits:
                    i = hits.popleft()
                    r = self.ragged[i]
                    self.ragged[i] = RaggedRow(lineno, r.text, r.expected, r.actual)
                    if not hits:
                        del wanted[text]
                    if not wanted:
                        break

    # -- batches ----------------------------------------------------------------------------------------------------
    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """Record batches of the given columns, all as strings."""
        for table in self.parsed(columns):
            yield self.checked(table)

    def checked(self, table: pa.Table) -> pa.Table:
        """A table of ``parsed``, its text checked as UTF-8 (call it on every table, in order): raises a
        FileFormatError naming the column and the parse block's records. The ingest checks on the normalise
        thread, so that the parse thread, which bounds the wall time, only parses."""
        if self.fmt == "parquet":
            return table  # Parquet text is handed on as the Parquet reader gives it (unchanged)
        for batch in table.to_batches():  # the parse blocks
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                if all_ascii(col):  # ASCII is valid UTF-8: the full check, ~2x dearer, is not needed
                    continue
                try:
                    col.validate(full=True)  # UTF-8 check (cheaper here than in the parser)
                except pa.ArrowInvalid as exc:
                    raise FileFormatError(
                        f"{self.name}: invalid UTF-8 in column {name} between records {self._checked + 1} and "
                        f"{self._checked + batch.num_rows}: {safe_error(exc)}"
                    ) from exc
            self._checked += batch.num_rows
        return table

    def parsed(self, columns: list[str]) -> Iterator[pa.Table]:
        """Tables of the given columns, all as strings, as parsed: pass each through ``checked``."""
        if self.fmt == "parquet":
            yield from self._parquet_batches(columns)
        else:
            yield from self._csv_batches(columns)

    def _parquet_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self._arrow_source())
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
                arrays = []
                for raw in batch.columns:
                    col = raw.cast(raw.type.value_type) if pa.types.is_dictionary(raw.type) else raw
                    arrays.append(col if pa.types.is_string(col.type) else pc.cast(col, pa.string()))
                yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
        except (OSError, pa.ArrowException) as exc:
            raise FileFormatError(f"{self.name}: corrupt or unreadable Parquet file: {safe_error(exc)}") from exc

    def _csv_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        import pyarrow.csv as pacsv

        header = self.header()

        too_many = False

        def on_invalid(row: Any) -> str:
            nonlocal too_many
            if len(self.ragged) >= MAX_REJECTED_ROWS:
                too_many = True
                return "error"
            text = str(row.text)[:_RAGGED_TEXT_MAX]
            self.ragged.append(RaggedRow(row.number, text, row.expected_columns, row.actual_columns))
            return "skip"

        source: Any = self._arrow_source()
        limited: _LimitedGzip | None = None
        if self.fmt == "csv.gz":
            size = len(self.data) if self.data is not None else (self.path.stat().st_size if self.path else 0)
            limited = _LimitedGzip(self._raw(), self.name, size)
            source = pa.PythonFile(io.BufferedReader(limited, buffer_size=_BLOCK), mode="r")
        read_opts = pacsv.ReadOptions(use_threads=_THREADS, block_size=_BLOCK, column_names=header, skip_rows=1)
        parse_opts = pacsv.ParseOptions(invalid_row_handler=on_invalid)
        convert_opts = pacsv.ConvertOptions(
            include_columns=columns,
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=True,
            null_values=["", "NULL"],
            quoted_strings_can_be_null=True,
            check_utf8=False,  # validated per block below: same check, a fraction of the cost
        )
        try:
            reader = pacsv.open_csv(
                source, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
            )
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                if not batch.num_rows:
                    continue
                pending.append(batch)
                rows += batch.num_rows
                if rows >= _BATCH_ROWS:
                    yield _coalesce(pending)
                    pending, rows = [], 0
            if pending:
                yield _coalesce(pending)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            if limited is not None and limited.exceeded:
                raise limited.too_big() from None
            if too_many:
                raise FileFormatError(
                    f"{self.name}: more than {MAX_REJECTED_ROWS} rejected rows (ragged); the file is refused"
                ) from None
            raise FileFormatError(f"{self.name}: corrupt or unreadable file: {safe_error(exc)}") from exc
