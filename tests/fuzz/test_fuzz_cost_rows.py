"""Fuzzing cost export rows: values of a real FOCUS export row replaced with junk.

Whatever the values, ingestion finishes; every record is either ingested or quarantined
(``rows + rows_rejected == records``: nothing lost, nothing counted twice), and every
quarantined record names the file, its line, the column and the reason.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.cost import ingest_paths

FIXTURE = Path(__file__).resolve().parents[1] / "ingest" / "cost" / "fixtures" / "focus_1.0-preview.csv"
FUZZED = ["BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", "SubAccountId"]
JUNK = st.one_of(
    st.sampled_from(["", "NaN", "inf", "-1e309", "1,5", "12.3.4", "2024-13-45", "01/02/2024", "€", "null", "0x10"]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
)


def _template() -> tuple[list[str], list[str]]:
    with FIXTURE.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        row = next(reader)
    return header, row


HEADER, ROW = _template()


@st.composite
def rows(draw: st.DrawFn) -> list[list[str]]:
    out = []
    for _ in range(draw(st.integers(1, 8))):
        row = list(ROW)
        for col in draw(st.sets(st.sampled_from(FUZZED), max_size=3)):
            row[HEADER.index(col)] = draw(JUNK)
        out.append(row)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows())
def test_every_record_is_ingested_or_quarantined_with_its_location(
    tmp_path_factory: pytest.TempPathFactory, records: list[list[str]]
) -> None:
    work = tmp_path_factory.mktemp("fuzzcost")
    src = work / "export.csv"
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    writer.writerows(records)
    src.write_text(buf.getvalue(), encoding="utf-8")
    summary = ingest_paths([src], work / "out")
    assert summary.files_failed == 0, summary.errors
    assert summary.rows + summary.rows_rejected == len(records), summary.to_dict()
    if summary.rows_rejected:
        assert summary.quarantine is not None
        # JSON lines end with "\n" only (str.splitlines would also split inside values at U+0085/U+2028)
        lines = [x for x in Path(summary.quarantine).read_text(encoding="utf-8").split("\n") if x]
        assert len(lines) == summary.rows_rejected
        for line in lines:
            q = json.loads(line)
            assert q["file"].endswith("export.csv")
            assert isinstance(q["line"], int), q
            assert 2 <= q["line"] <= len(records) + 1, q
            assert q["column"] in HEADER, q
            assert q["reason"], q


def test_a_bad_cost_value_is_quarantined_not_lost(tmp_path: Path) -> None:
    """The property above is not vacuous: a junk BilledCost is rejected with file, line and column."""
    bad = list(ROW)
    bad[HEADER.index("BilledCost")] = "twelve"
    src = tmp_path / "export.csv"
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, ROW, bad])
    src.write_text(buf.getvalue(), encoding="utf-8")
    summary = ingest_paths([src], tmp_path / "out")
    assert (summary.rows, summary.rows_rejected) == (1, 1)
    assert summary.quarantine is not None
    q = json.loads(Path(summary.quarantine).read_text(encoding="utf-8").split("\n")[0])
    assert (q["line"], q["column"]) == (3, "BilledCost")
    assert q["reason"]


@pytest.mark.parametrize("before", [None, {"EffectiveCost": "NaN"}])
def test_a_missing_cost_is_quarantined_whatever_the_other_rows(tmp_path: Path, before: dict[str, str] | None) -> None:
    """Found by the test above (hypothesis seed 5): a blank BilledCost that Arrow's fast decimal path
    read as null was neither ingested nor quarantined when another row of its batch was rejected,
    and ingested with a null cost when none was."""
    records = []
    if before is not None:
        bad = list(ROW)
        for col, value in before.items():
            bad[HEADER.index(col)] = value
        records.append(bad)
    blank = list(ROW)
    blank[HEADER.index("BilledCost")] = ""
    records.append(blank)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    writer.writerows(records)
    src = tmp_path / "export.csv"
    src.write_text(buf.getvalue(), encoding="utf-8")
    summary = ingest_paths([src], tmp_path / "out")
    assert summary.rows == 0
    assert summary.rows_rejected == len(records)
    assert summary.quarantine is not None
    lines = [json.loads(x) for x in Path(summary.quarantine).read_text(encoding="utf-8").splitlines()]
    assert any("missing cost in BilledCost" in str(x) for x in lines), lines
