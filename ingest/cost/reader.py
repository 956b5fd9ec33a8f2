"""Streaming readers for export files: CSV (plain or gzip, with or without BOM) and Parquet.

Every reader yields Arrow record batches whose columns are strings, restricted to
the columns the normalizer needs, and never loads a whole file. Ragged CSV rows
are skipped by the parser and reported with their physical line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

__all__ = ["FileFormatError", "RaggedRow", "SourceFile", "sniff_format"]

_BLOCK = 2 << 20  # small blocks parse fastest (cache-friendly); batches are coalesced below
_BATCH_ROWS = 65_536
_THREADS = True


class FileFormatError(ValueError):
    """A file cannot be read at all (corrupt gzip/Parquet, empty, not a table)."""


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

                return list(pq.ParquetFile(self._arrow_source()).schema_arrow.names)
            with self._raw() as raw:
                stream: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw) if self.fmt == "csv.gz" else raw
                first = stream.readline(1 << 20)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            raise FileFormatError(f"{self.name}: cannot read {self.fmt} file: {exc}") from exc
        text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        if not text.strip():
            raise FileFormatError(f"{self.name}: line 1: empty file or missing header")
        return [h.strip() for h in next(csv.reader([text]))]

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
        wanted: dict[str, list[int]] = {}
        for i in todo:
            wanted.setdefault(self.ragged[i].text, []).append(i)
        with self._raw() as raw:
            stream: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw) if self.fmt == "csv.gz" else raw
            for lineno, line in enumerate(stream, start=1):
                text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
                hits = wanted.get(text)
                if hits:
                    i = hits.pop(0)
                    r = self.ragged[i]
                    self.ragged[i] = RaggedRow(lineno, r.text, r.expected, r.actual)
                    if not hits:
                        del wanted[text]
                    if not wanted:
                        break

    # -- batches ----------------------------------------------------------------------------------------------------
    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """Record batches of the given columns, all as strings."""
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
            raise FileFormatError(f"{self.name}: corrupt or unreadable Parquet file: {exc}") from exc

    def _csv_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        import pyarrow.csv as pacsv

        header = self.header()

        def on_invalid(row: Any) -> str:
            self.ragged.append(RaggedRow(row.number, row.text, row.expected_columns, row.actual_columns))
            return "skip"

        source: Any = self._arrow_source()
        if self.fmt == "csv.gz":
            source = pa.CompressedInputStream(
                pa.BufferReader(self.data) if self.data is not None else pa.OSFile(str(self.path)), "gzip"
            )
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
            seen = 0
            for batch in reader:
                if not batch.num_rows:
                    continue
                for name, col in zip(batch.schema.names, batch.columns, strict=True):
                    try:
                        col.validate(full=True)  # UTF-8 check (cheaper here than in the parser)
                    except pa.ArrowInvalid as exc:
                        raise FileFormatError(
                            f"{self.name}: invalid UTF-8 in column {name} between records {seen + 1} and "
                            f"{seen + batch.num_rows}: {exc}"
                        ) from exc
                seen += batch.num_rows
                pending.append(batch)
                rows += batch.num_rows
                if rows >= _BATCH_ROWS:
                    yield _coalesce(pending)
                    pending, rows = [], 0
            if pending:
                yield _coalesce(pending)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            raise FileFormatError(f"{self.name}: corrupt or unreadable file: {exc}") from exc
