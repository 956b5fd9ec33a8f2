"""Bad input: bad rows are quarantined with file, line, column and reason; unreadable files are
reported; the rest is ingested; the CLI exits 0 unless nothing at all could be read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingest.cost import ingest_paths, load_costs

REPO = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_bad_rows_are_quarantined_and_the_rest_ingested(
    fixtures_dir: Path, expected: dict[str, Any], tmp_path: Path
) -> None:
    exp = expected["bad/ea_bad_rows.csv"]
    path = fixtures_dir / "bad" / "ea_bad_rows.csv"
    summary = ingest_paths([path], tmp_path)
    assert summary.rows == exp["rows"]
    assert summary.rows_rejected == exp["rejected"]
    assert summary.billed_cost == {"USD": Decimal(exp["billed_cost"]["USD"])}
    assert summary.quarantine is not None
    lines = [json.loads(x) for x in Path(summary.quarantine).read_text().splitlines()]
    got = sorted(({"line": q["line"], "column": q["column"]} for q in lines), key=lambda d: d["line"])
    assert got == exp["rejects"]
    by_line = {q["line"]: q for q in lines}
    assert all(q["file"] == str(path) for q in lines)
    assert "unparseable cost '12,5x' in Cost" in by_line[3]["reason"]
    assert by_line[3]["record"]["Cost"] == "12,5x"
    assert "ragged row: expected 55 columns, found 3" in by_line[5]["reason"]
    assert by_line[5]["record"] == "8611537,ragged,row"
    assert "unparseable date '2024-13-45' in Date" in by_line[6]["reason"]
    assert len(load_costs(tmp_path)) == exp["rows"]


def test_unreadable_files_are_reported_and_others_ingested(fixtures_dir: Path, tmp_path: Path) -> None:
    bad = fixtures_dir / "bad"
    summary = ingest_paths(
        [
            bad / "truncated.csv.gz",
            bad / "corrupt.parquet",
            bad / "unknown_header.csv",
            fixtures_dir / "focus_1.0.csv.gz",
        ],
        tmp_path,
    )
    assert summary.files == 1
    assert summary.files_failed == 3
    assert summary.rows == 9
    errors = "\n".join(summary.errors)
    assert f"{bad / 'truncated.csv.gz'}: corrupt or unreadable file" in errors
    assert f"{bad / 'corrupt.parquet'}:" in errors
    assert f"{bad / 'unknown_header.csv'}: unknown header set" in errors
    assert "the header has 3 columns" in errors
    assert "Foo" not in errors  # file contents are never quoted (tests/security/test_export_paths.py)
    # nothing of the truncated file leaked into the store
    assert set(load_costs(tmp_path).x_SourceFile) == {str(fixtures_dir / "focus_1.0.csv.gz")}


def test_cli_exit_codes_and_summary_line(fixtures_dir: Path, tmp_path: Path) -> None:
    ok = _cli(
        "ingest", "cost", str(fixtures_dir / "bad" / "ea_bad_rows.csv"), "--out", str(tmp_path / "a"), "--no-progress"
    )
    assert ok.returncode == 0, ok.stderr
    last = json.loads(ok.stdout.strip().splitlines()[-1])
    assert last["rows"] == 3
    assert last["rows_rejected"] == 3
    assert last["billed_cost"] == {"USD": 4.598411139}
    assert last["effective_cost"] == {}
    assert last["quarantine"].endswith(".jsonl")
    assert "line 3 column Cost" in ok.stderr or "3 rows rejected" in ok.stderr

    bad = _cli(
        "ingest", "cost", str(fixtures_dir / "bad" / "truncated.csv.gz"), "--out", str(tmp_path / "b"), "--no-progress"
    )
    assert bad.returncode == 1
    assert "truncated.csv.gz: corrupt or unreadable file" in bad.stderr
    assert json.loads(bad.stdout.strip().splitlines()[-1])["files"] == 0

    missing = _cli("ingest", "cost", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "c"), "--no-progress")
    assert missing.returncode == 1
    assert "no such file or folder" in missing.stderr


def test_cli_costs_summary(fixtures_dir: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures_dir / "ea_legacy_actual.csv", tmp_path / "actual.csv")
    assert (
        _cli("ingest", "cost", str(tmp_path / "actual.csv"), "--out", str(tmp_path / "s"), "--no-progress").returncode
        == 0
    )
    res = _cli("costs", "summary", "--data", str(tmp_path / "s"), "--by", "resource-group", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    keys = {r["key"] for r in out["rows"]}
    assert keys == {"rg-web", "data-rg", "(none)"}  # an Azure row without a resource group
    assert Decimal(out["totals"]["USD"]["billed_cost"]) == Decimal("8.2122921067419368")
    assert out["totals"]["USD"]["effective_cost"] is None
    table = _cli("costs", "summary", "--data", str(tmp_path / "s"), "--by", "day")
    assert table.returncode == 0
    assert "2024-05-01" in table.stdout
    assert "8.21" in table.stdout
    assert _cli("costs", "summary", "--data", str(tmp_path / "s"), "--by", "nope").returncode != 0


def test_cli_dataset_option_says_which_metric(fixtures_dir: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures_dir / "ea_legacy_actual.csv", tmp_path / "export.csv")  # the name says neither
    plain = _cli("ingest", "cost", str(tmp_path / "export.csv"), "--out", str(tmp_path / "p"), "--no-progress")
    assert plain.returncode == 0
    assert "assumed actual cost" in plain.stderr
    assert json.loads(plain.stdout.strip().splitlines()[-1])["metrics"] == ["BilledCost"]
    amortized = _cli(
        "ingest",
        "cost",
        str(tmp_path / "export.csv"),
        "--out",
        str(tmp_path / "a"),
        "--dataset",
        "amortized",
        "--no-progress",
    )
    assert amortized.returncode == 0
    out = json.loads(amortized.stdout.strip().splitlines()[-1], parse_float=Decimal)  # exact decimal numbers
    assert out["metrics"] == ["EffectiveCost"]
    assert out["billed_cost"] == {}
    assert out["effective_cost"]["USD"] == Decimal("8.2122921067419368")
    assert "assumed" not in amortized.stderr


def test_cli_prints_each_problem_once_naming_file_record_and_field(fixtures_dir: Path, tmp_path: Path) -> None:
    """Issue 21: `vigil ingest cost` printed a file's error three times (the log's last-resort handler, the
    command's own line, the summary). stderr now carries one line per problem; stdout the JSON summary."""
    bad_rows = fixtures_dir / "bad" / "ea_bad_rows.csv"
    truncated = fixtures_dir / "bad" / "truncated.csv.gz"
    res = _cli("ingest", "cost", str(bad_rows), str(truncated), "--out", str(tmp_path / "a"), "--no-progress")
    lines = res.stderr.splitlines()
    file_error = [ln for ln in lines if "truncated.csv.gz: corrupt or unreadable file" in ln]
    assert len(file_error) == 1, res.stderr
    assert file_error[0].startswith("error: ")
    rejected = [ln for ln in lines if "cost row rejected" in ln]
    assert rejected, res.stderr
    assert "warning: cost row rejected: " in rejected[0]
    assert "ea_bad_rows.csv line 3 column Cost" in res.stderr  # file, record and field
    assert len(rejected) == len(set(rejected)) == json.loads(res.stdout.splitlines()[-1])["rows_rejected"]
