"""Row 7 and the parser items: hostile export files fail fast and clearly, and numbers are strict.

The review's file: a 2.6 KB ``.csv.gz`` holding a header and a million junk lines took 168 s,
249 MB and wrote a 153 MB quarantine. Here it fails with a clear error and a bounded quarantine;
a gzip bomb is refused; "1_000", Arabic-Indic digits, NaN and inf are rejected as numbers (with
the row quarantined, never silently kept); and a duplicated column header is an error.
"""

from __future__ import annotations

import gzip
import inspect
import json
from pathlib import Path

import pytest

from ingest.cost import ingest_paths, load_costs
from ingest.cost import reader as reader_mod
from ingest.cost.reader import MAX_REJECTED_ROWS, FileFormatError, SourceFile
from ingest.cost.values import parse_date

HEADER = "Date,Cost,BillingCurrency,SubscriptionId,ResourceGroup,ResourceId,MeterCategory,Quantity"
RID = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg"
    "/providers/Microsoft.Compute/virtualMachines/vm1"
)


def _row(cost: str = "1.5", quantity: str = "2", date: str = "2026-11-01") -> str:
    return f"{date},{cost},USD,11111111-1111-1111-1111-111111111111,rg,{RID},Virtual Machines,{quantity}"


def test_a_small_gzip_of_a_million_junk_lines_fails_clearly_with_a_bounded_quarantine(tmp_path: Path) -> None:
    path = tmp_path / "part_0_0001.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "\n" + "junk\n" * 1_000_000).encode(), 9))
    assert path.stat().st_size < 10_000  # the review's file was 2.6 KB
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.files_failed == 1
    [error] = summary.errors
    assert f"more than {MAX_REJECTED_ROWS} rejected rows" in error
    assert summary.rows == 0
    qpath = Path(summary.quarantine) if summary.quarantine else None
    assert qpath is None or len(qpath.read_text().splitlines()) <= MAX_REJECTED_ROWS


def test_too_many_bad_values_fail_the_file_too(tmp_path: Path) -> None:
    path = tmp_path / "bad-values.csv"
    path.write_text(HEADER + "\n" + "\n".join(_row(cost="x") for _ in range(MAX_REJECTED_ROWS + 5)) + "\n")
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.files_failed == 1
    assert f"more than {MAX_REJECTED_ROWS} rejected rows" in summary.errors[0]


def test_ragged_lines_are_matched_in_linear_time() -> None:
    """The quadratic ``list.pop(0)`` over a million identical ragged lines is gone."""
    source = inspect.getsource(reader_mod)
    assert ".pop(0)" not in source
    ragged = "\n".join(["a,b"] * 50 + [_row()] + ["a,b"] * 50)
    src = SourceFile(name="r.csv", data=(HEADER + "\n" + ragged + "\n").encode())
    assert sum(b.num_rows for b in src.batches(["Date", "Cost"])) == 1
    src.resolve_ragged_lines()
    assert sorted(r.line for r in src.ragged if r.line) == [*range(2, 52), *range(53, 103)]


def test_a_gzip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real floor is 64 MiB; lowered here so the bomb is small enough for a unit test.
    monkeypatch.setattr(reader_mod, "_RATIO_FLOOR", 1 << 20)
    bomb = gzip.compress((HEADER + "\n").encode() + b"\n" * (20 << 20), 9)
    assert len(bomb) < 100_000
    src = SourceFile(name="bomb.csv.gz", data=bomb)
    with pytest.raises(FileFormatError, match="decompression bomb"):
        for _ in src.batches(["Date", "Cost"]):
            pass


def test_a_real_ratio_gzip_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: with the same lowered floor, an ordinary export compresses far below the ratio."""
    monkeypatch.setattr(reader_mod, "_RATIO_FLOOR", 1 << 20)
    rows = "\n".join(_row(cost=f"{i}.25", quantity=str(i % 7)) for i in range(20_000))
    src = SourceFile(name="ok.csv.gz", data=gzip.compress((HEADER + "\n" + rows + "\n").encode()))
    assert sum(b.num_rows for b in src.batches(["Date", "Cost"])) == 20_000


@pytest.mark.parametrize(
    ("cost", "quantity"),
    [
        ("1_000", "1"),
        ("\u0661\u0662\u0663", "1"),  # Arabic-Indic 123
        ("NaN", "1"),
        ("inf", "1"),
        ("-Infinity", "1"),
        ("1.5", "NaN"),
        ("1.5", "inf"),
        ("1.5", "1_000"),
        ("1.5", "\u0662"),
        ("1.5", "0x10"),
    ],
)
def test_numbers_are_strict(cost: str, quantity: str, tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text(f"{HEADER}\n{_row()}\n{_row(cost=cost, quantity=quantity)}\n", encoding="utf-8")
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.rows == 1, "the strict row is kept"
    assert summary.rows_rejected == 1, "the other is quarantined (nothing lost, nothing counted twice)"
    assert summary.quarantine
    [entry] = [json.loads(x) for x in Path(summary.quarantine).read_text(encoding="utf-8").splitlines()]
    assert entry["line"] == 3
    assert entry["column"] in ("Cost", "Quantity")
    frame = load_costs(tmp_path / "out")
    assert len(frame) == 1


def test_negative_quantities_stay_valid() -> None:
    """Credits and refunds have negative quantities in real exports (the FOCUS 1.0 sample does)."""
    src = SourceFile(name="n.csv", data=f"{HEADER}\n{_row(cost='-1.5', quantity='-0.0013')}\n".encode())
    assert sum(b.num_rows for b in src.batches(["Quantity"])) == 1
    from ingest.cost.values import DECIMAL_PATTERN, QUANTITY_PATTERN

    assert QUANTITY_PATTERN == DECIMAL_PATTERN


def test_dates_take_ascii_digits_only() -> None:
    assert parse_date("2026-11-01") is not None
    assert parse_date("11/01/2026") is not None
    assert parse_date("\u0661\u0661/\u0660\u0661/\u0662\u0660\u0662\u0666") is None
    assert parse_date("\uff12\uff10\uff12\uff16-11-01") is None  # full-width digits


@pytest.mark.parametrize("header", ["Date,Cost,Cost,BillingCurrency", "Date,Cost,BillingCurrency,cost"])
def test_a_duplicated_header_is_an_error(header: str, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"{header}\n2026-11-01,1,2,USD\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="duplicate column"):
        SourceFile(name=str(path), path=path).header()
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.files_failed == 1
    assert "duplicate column" in summary.errors[0]


def test_parser_errors_quote_no_file_contents(tmp_path: Path) -> None:
    """Arrow's CSV errors end with the offending row; our errors never carry it."""
    secret = "AccountKey=c2VjcmV0LXN0b3JhZ2Uta2V5"
    path = tmp_path / "notcsv.csv"
    path.write_text(f"{secret},x\n", encoding="utf-8")
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.files_failed == 1
    assert all(secret not in e and "AccountKey" not in e for e in summary.errors)
    assert reader_mod.safe_error(ValueError("CSV parse error: Expected 3 columns, got 1: " + secret)) == (
        "CSV parse error: Expected 3 columns, got 1"
    )


def test_rejected_values_go_to_the_quarantine_not_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    secret = "AccountKey=c2VjcmV0"
    path = tmp_path / "values.csv"
    path.write_text(f"{HEADER}\n{_row(cost=secret)}\n", encoding="utf-8")
    summary = ingest_paths([path], tmp_path / "out")
    assert summary.rows_rejected == 1
    assert summary.quarantine
    assert secret in Path(summary.quarantine).read_text(encoding="utf-8"), "the record is kept where it belongs"
    assert "cost row rejected" in caplog.text
    assert secret not in caplog.text
