"""The faster ingest path changes nothing: bad records deep inside parse blocks are still quarantined
with file, line and column; the ASCII and decimal fast paths give exactly the slow paths' content; a
failed Parquet write on the write-behind thread fails the ingest and leaves no thread behind."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.ingest.generate import write_ea_export
from ingest.cost import ingest_paths, normalize, reader
from ingest.cost import values as cost_values
from ingest.cost.arrow_util import all_ascii, lower
from ingest.cost.store import PartWriter

ROWS = 6_000


def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many parse blocks and batches from a small file (the real sizes need ~100k rows)."""
    monkeypatch.setattr(reader, "_BLOCK", 64 << 10)
    monkeypatch.setattr(reader, "_BATCH_ROWS", 1_000)


def _corrupt(path: Path, bad: dict[int, tuple[str, str]]) -> Decimal:
    """Rewrite data lines (1-based physical line numbers) with one field replaced; the removed costs."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = next(csv.reader([lines[0]]))
    removed = Decimal(0)
    for line_no, (column, value) in bad.items():
        row = next(csv.reader([lines[line_no - 1]]))
        removed += Decimal(row[header.index("Cost")])
        row[header.index(column)] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(row)
        lines[line_no - 1] = buf.getvalue()
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return removed


def test_bad_records_in_the_middle_of_blocks_are_quarantined_with_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_blocks(monkeypatch)
    path = tmp_path / "ea.csv"
    total = write_ea_export(path, ROWS, seed=11)
    # lines inside blocks and batches (a 64 KiB block holds ~80 rows), the last line, one bad field each
    bad = {
        1_234: ("Cost", "12,5x"),
        3_001: ("Date", "2024-13-45"),
        4_567: ("Quantity", "NaN"),
        5_002: ("Cost", "1e00005"),  # Arrow's decimal parser takes it, the strict pattern does not
        ROWS + 1: ("BillingCurrency", ""),
    }
    removed = _corrupt(path, bad)
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.rows == ROWS - len(bad)
    assert summary.rows_rejected == len(bad)
    assert summary.billed_cost == {"USD": total - removed}
    assert summary.quarantine is not None
    got = [json.loads(x) for x in Path(summary.quarantine).read_text().splitlines()]
    assert [(q["file"], q["line"], q["column"]) for q in got] == [
        (str(path), line, column) for line, (column, _v) in sorted(bad.items())
    ]
    by_line = {q["line"]: q for q in got}
    assert "unparseable cost '12,5x' in Cost" in by_line[1_234]["reason"]
    assert by_line[1_234]["record"]["Cost"] == "12,5x"
    assert "unparseable date '2024-13-45' in Date" in by_line[3_001]["reason"]
    assert "invalid quantity 'NaN' in Quantity" in by_line[4_567]["reason"]
    assert "unparseable cost '1e00005' in Cost" in by_line[5_002]["reason"]
    assert "missing billing currency" in by_line[ROWS + 1]["reason"]


def _frame(out: Path) -> pa.Table:
    files = sorted(out.glob("scope=*/month=*/dataset=*/runs/*/*.parquet"))
    assert files
    return pa.concat_tables(pq.read_table(f) for f in files)  # written in file order, both times


def _vary(path: Path, every: int, column: str, value: Callable[[str], str]) -> None:
    """Rewrite ``column`` of every ``every``-th data line (from line 2) with ``value(old)``."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = next(csv.reader([lines[0]]))
    col = header.index(column)
    for i in range(1, len(lines), every):
        row = next(csv.reader([lines[i]]))
        row[col] = value(row[col])
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(row)
        lines[i] = buf.getvalue()
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


def test_fast_paths_write_exactly_the_slow_paths_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_blocks(monkeypatch)
    path = tmp_path / "ea.csv"
    total = write_ea_export(path, ROWS, seed=12)
    # non-ASCII text in some blocks (not others) and upper case, so both lower-casing paths run
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for i in range(50, len(lines), 997):
        lines[i] = lines[i].replace("/resourceGroups/", "/resourceGroups/RG-ÄÖ-İ-")
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    # and in some batches: a quantity with spaces (the float fast path steps aside), tags with spaces or
    # empty, a meter category no table knows (ServiceFamily decides), a second billing month (two
    # partitions from one batch), a missing billing period (the charge date's month) and a missing
    # billing account (the subscription's partition)
    _vary(path, 1_303, "Quantity", lambda q: f" {q} ")
    _vary(path, 211, "Tags", lambda t: f"  {t} ")
    _vary(path, 1_709, "Tags", lambda _t: "{}")
    _vary(path, 907, "MeterCategory", lambda _m: "Quantum Widgets")
    _vary(path, 13, "BillingPeriodStartDate", lambda _d: "04/01/2024")
    _vary(path, 2_111, "BillingPeriodStartDate", lambda _d: "")
    _vary(path, 1_901, "BillingAccountId", lambda _a: "")  # scoped by the subscription instead
    fast = ingest_paths([path], tmp_path / "fast")
    monkeypatch.setattr(normalize, "_strict_decimals", lambda _arr: None)
    monkeypatch.setattr(normalize, "_plain_floats", lambda _arr: None)
    monkeypatch.setattr(normalize, "lower", pc.utf8_lower)
    monkeypatch.setattr(normalize, "_CONSTANT_BATCHES", False)
    monkeypatch.setattr(normalize, "_DICTIONARY", False)
    monkeypatch.setattr(cost_values, "meter_service_category", lambda _m: None)
    slow = ingest_paths([path], tmp_path / "slow")
    assert fast.billed_cost == slow.billed_cost == {"USD": total}
    assert fast.rows == slow.rows == ROWS
    assert fast.rows_rejected == slow.rows_rejected == 0
    a, b = _frame(tmp_path / "fast"), _frame(tmp_path / "slow")
    assert a.schema == b.schema == normalize.FRAME_SCHEMA
    assert a.equals(b)
    assert any("/resourcegroups/rg-äö-" in (v or "") for v in a["ResourceId"].to_pylist())
    assert {"2024-04", "2024-05"} <= {p.name.split("=")[1] for p in (tmp_path / "fast").glob("scope=*/month=*")}
    assert len(list((tmp_path / "fast").glob("scope=*"))) > 1  # the billing account's and subscriptions'
    # the fast run handed ResourceId, Tags and the constants to the writer dictionary-encoded
    fast_file = sorted((tmp_path / "fast").glob("scope=*/month=2024-05/dataset=*/runs/*/*.parquet"))[0]
    kinds = {
        name: pq.ParquetFile(fast_file).metadata.row_group(0).column(i).encodings
        for i, name in enumerate(normalize.FRAME_SCHEMA.names)
    }
    assert all("PLAIN_DICTIONARY" in kinds[c] or "RLE_DICTIONARY" in kinds[c] for c in ("ResourceId", "Tags"))


def test_a_batch_of_one_value_maps_as_the_per_value_lookup_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Normalizer._map``'s constant-batch fast path gives exactly the lookup's array: for a mapping to a
    value, to None, after the lookup has cached other values, and not for batches of two values or nulls."""
    from ingest.cost.columns import detect
    from ingest.cost.values import charge_category, pricing_category

    header = ["Date", "SubscriptionId", "Cost", "BillingCurrency", "ChargeType", "PricingModel"]
    det = detect(header, hint="ea.csv")
    cases: list[tuple[list[str | None], Callable[[Any], Any]]] = [
        (["Usage"] * 5, charge_category),
        (["OnDemand"] * 5, pricing_category),
        (["Spot"] * 3, pricing_category),
        (["Purchase", "Purchase", "Usage", "Purchase"], charge_category),  # the ends agree, the middle not
        (["Usage", None, "Usage"], charge_category),
        (["x"] * 4, lambda _v: None),
        (["Usage", "Refund"], charge_category),
    ]
    got: dict[bool, list[pa.Array]] = {}
    for fast in (True, False):
        monkeypatch.setattr(normalize, "_CONSTANT_BATCHES", fast)
        norm = normalize.Normalizer(det, run_id="r", source_file="f")
        got[fast] = []
        for values, fn in cases:  # one cache per function, as the normalizer names them
            arr = pa.chunked_array([values[:2], values[2:]], pa.string())
            got[fast].append(norm._map(getattr(fn, "__name__", "f"), arr, fn, pa.string()))
    for i, (a, b) in enumerate(zip(got[True], got[False], strict=True)):
        assert a.type == b.type, i
        assert a.to_pylist() == b.to_pylist(), i
    assert got[True][0].to_pylist() == [charge_category("Usage")] * 5
    assert got[True][5].to_pylist() == [None] * 4


def test_lower_matches_utf8_lower_on_ascii_and_other_text() -> None:
    rng = random.Random(5)
    alphabet = "abcXYZ/-_.0123 ÄÖÜßİıΣςǅ"
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(2_000)]
    ascii_words = [w for w in words if w.isascii()]
    for values in (words, ascii_words, [None, "ABC", None], []):
        arr = pa.array(values, pa.string())
        assert lower(arr).equals(pc.utf8_lower(arr))
        chunked = pa.chunked_array([arr.slice(0, len(values) // 2), arr.slice(len(values) // 2)], pa.string())
        assert lower(chunked).equals(pc.utf8_lower(chunked))
    mixed = pa.array(["ÄBC", "ABC"])
    assert lower(mixed.slice(1)).to_pylist() == ["abc"]  # a slice whose neighbour is not ASCII


def test_float_fast_path_agrees_with_the_pattern() -> None:
    from ingest.cost.values import QUANTITY_PATTERN

    samples = ["1", "-1.5", "+.5", "5.", ".", "-", "+", "1.2.3", "1-2", "--1", "1e5", "1E-5", "NaN", "inf", "-inf"]
    samples += ["1e00005", "nan", "1_000", " 1", "1 ", "0x10", "١٢", "", "00012.5000"]
    for s in samples:
        fast = normalize._plain_floats(pa.array([s]))
        matched = pc.match_substring_regex(pa.array([s]), QUANTITY_PATTERN)[0].as_py()
        if fast is not None:
            assert matched, s
            assert fast.to_pylist() == [float(s)], s
    both = pa.chunked_array([pa.array(["1.25", None]), pa.array(["x", "-3"]).slice(1)])
    got = normalize._plain_floats(both)  # a slice's neighbour ("x") is not its text
    assert got is not None
    assert got.to_pylist() == [1.25, None, -3.0]
    assert normalize._plain_floats(pa.array(["1.25", "NaN"])) is None


def test_redictionary_dedupes_and_nulls_what_the_mapping_merges() -> None:
    from ingest.cost.arrow_util import dictionary_of, redictionary

    raw = pa.chunked_array([pa.array(["A", "a", None, "b"]), pa.array(["B", "c", "a"])])
    enc = pc.dictionary_encode(raw)
    mapped = pc.utf8_lower(dictionary_of(enc))
    mapped = pc.if_else(pc.equal(mapped, "c"), pa.scalar(None, pa.string()), mapped)  # "c" maps to nothing
    out = redictionary(enc, mapped)
    assert out.to_pylist() == ["a", "a", None, "b", "b", None, "a"]
    for chunk in out.chunks:  # the writer takes a dictionary as it is only when unique and without nulls
        assert chunk.dictionary.null_count == 0
        assert len(pc.unique(chunk.dictionary)) == len(chunk.dictionary)
        assert chunk.dictionary.equals(out.chunks[0].dictionary)


def test_strict_decimal_fast_path_agrees_with_the_pattern() -> None:
    from ingest.cost.values import DECIMAL_PATTERN

    samples = ["1", "-1.5", "+.5", "5.", "1e5", "1E-5", "1e00005", "1_000", "NaN", "inf", " 1", "1 ", "0x10", "١٢"]
    for s in samples:
        fast = normalize._strict_decimals(pa.array([s]))
        if fast is not None:
            matched = pc.match_substring_regex(pa.array([s]), DECIMAL_PATTERN)[0].as_py()
            assert matched, s
            assert "e" not in s.lower()
    plain = normalize._strict_decimals(pa.array(["1.25", None, "-3"]))
    assert plain is not None
    assert plain.to_pylist() == [
        Decimal("1.25"),
        None,
        Decimal(-3),
    ]


def test_a_failed_parquet_write_fails_the_ingest_and_stops_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_blocks(monkeypatch)
    monkeypatch.setattr("ingest.cost.engine._FLUSH_ROWS", 1_000)
    path = tmp_path / "ea.csv"
    write_ea_export(path, 20_000, seed=13)
    real_write = PartWriter.write
    calls = {"n": 0}

    def failing_write(self: PartWriter, table: pa.Table) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_write(self, table)

    monkeypatch.setattr(PartWriter, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        ingest_paths([path], tmp_path / "out")
    assert calls["n"] <= 2 + 3  # the ingest stopped at the failure (at most the queued writes ran), of 20
    assert not any(t.name.startswith(("vigil-write", "vigil-parse", "vigil-normalize")) for t in threading.enumerate())
    assert not list((tmp_path / "out").glob("scope=*/**/_current.json"))  # nothing was swapped in


def test_invalid_utf8_in_a_middle_block_refuses_the_file_naming_column_and_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_blocks(monkeypatch)
    path = tmp_path / "ea.csv"
    write_ea_export(path, ROWS, seed=14)
    raw = path.read_bytes().split(b"\n")
    raw[2_500] = raw[2_500].replace(b"Contoso Subscription", b"Contoso \xff\xfe Subscription", 1)
    raw[4_000] = raw[4_000].replace(b"Contoso Subscription", "Contoso Ünïcode Subscription".encode(), 1)
    path.write_bytes(b"\n".join(raw))
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.files_failed == 1
    assert summary.rows == 0
    [error] = summary.errors
    assert error.startswith(f"{path}: invalid UTF-8 in column SubscriptionName between records ")
    first, last = (int(x) for x in error.split("between records ", 1)[1].split(":", 1)[0].split(" and "))
    assert first <= 2_500 <= last  # the record on physical line 2,501 (the header is line 1)
    assert not list((tmp_path / "out").glob("scope=*/**/*.parquet"))

    raw[2_500] = raw[2_500].replace(b"\xff\xfe", "\u00e9".encode())
    path.write_bytes(b"\n".join(raw))
    ok = ingest_paths([path], tmp_path / "out2")  # valid non-ASCII text is ingested as it is
    assert ok.files_failed == 0
    assert ok.rows == ROWS


def test_a_store_of_files_written_before_and_after_reads_as_one_written_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written with dictionary-encoded columns (without the Arrow schema) and files written before, all
    text, in one store: every reader gets the plain cost frame, exactly as from a store written all plain."""
    from ingest.cost import load_costs
    from ingest.cost.store import cost_accounts
    from ingest.cost.summary import summarize

    april, may = tmp_path / "april" / "ea.csv", tmp_path / "may" / "ea.csv"
    for path, month, seed in ((april, "2024-04", 21), (may, "2024-05", 22)):
        path.parent.mkdir()
        write_ea_export(path, 3_000, seed=seed, month=month)
    mixed, plain = tmp_path / "mixed", tmp_path / "plain"
    monkeypatch.setattr(normalize, "_DICTIONARY", False)  # as written before: text columns only
    for path in (april, may):
        assert ingest_paths([path], plain).errors == []
    assert ingest_paths([april], mixed).errors == []
    monkeypatch.setattr(normalize, "_DICTIONARY", True)
    assert ingest_paths([may], mixed).errors == []
    new = sorted(mixed.glob("scope=*/month=2024-05/dataset=*/runs/*/*.parquet"))
    old = sorted(mixed.glob("scope=*/month=2024-04/dataset=*/runs/*/*.parquet"))
    assert new
    assert old
    assert pq.read_schema(new[0]).equals(pq.read_schema(old[0]))  # one schema for readers, whatever the writer
    assert pq.read_schema(new[0]).equals(normalize.FRAME_SCHEMA)
    for aggregate, categorical in ((False, False), (True, False), (True, True)):
        got = load_costs(mixed, aggregate=aggregate, categorical=categorical)
        want = load_costs(plain, aggregate=aggregate, categorical=categorical)
        keys = ["ChargePeriodStart", "ResourceId", "BilledCost", "ConsumedQuantity"]
        got = got.sort_values(keys, ignore_index=True)
        want = want.sort_values(keys, ignore_index=True)
        pd.testing.assert_frame_equal(got, want)
    assert cost_accounts(mixed) == cost_accounts(plain)
    for by in ("day", "subscription", "service"):
        assert summarize(mixed, by) == summarize(plain, by)


def test_the_parse_thread_only_parses_the_utf8_check_runs_on_the_normalise_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse thread bounds the wall time (Arrow's CSV parse runs on it): the per-block UTF-8 check of the
    parsed text runs beside the normalisation instead, on every block, in order."""
    _small_blocks(monkeypatch)
    path = tmp_path / "ea.csv"
    write_ea_export(path, ROWS, seed=15)
    threads: list[str] = []

    def spy(arr: Any) -> bool:
        threads.append(threading.current_thread().name)
        return all_ascii(arr)

    monkeypatch.setattr("ingest.cost.reader.all_ascii", spy)
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.rows == ROWS
    assert threads
    assert set(threads) == {"vigil-normalize"}
