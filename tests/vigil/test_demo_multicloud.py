"""The demo tenant's second cloud: its AWS FOCUS export is ingested to the cent and the digest shows it."""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ingest.cost.summary import summarize
from vigil.cli.main import app

runner = CliRunner()


def _demo(out: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["demo", "--out", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("demo-mc") / "out"
    return out, _demo(out)


def test_aws_export_ingested_to_the_cent(demo: tuple[Path, dict[str, Any]]) -> None:
    out, _summary = demo
    files = sorted((out / "tenant" / "focus" / "aws").rglob("*.csv.gz"))
    assert len(files) >= 3  # one per billing period of the 90 days
    expected = Decimal(0)
    for f in files:
        for rec in csv.DictReader(io.StringIO(gzip.decompress(f.read_bytes()).decode("utf-8"))):
            assert rec["ProviderName"] == "AWS"
            expected += Decimal(rec["BilledCost"])
    rows, _totals = summarize(out / "data" / "costs", "provider")
    got = {r["key"]: Decimal(r["billed_cost"]) for r in rows}
    assert got["AWS"] == expected
    assert set(got) == {"AWS", "Microsoft"}


def test_demo_digest_shows_the_second_cloud(demo: tuple[Path, dict[str, Any]]) -> None:
    out, _summary = demo
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", (out / "digest.html").read_text())))
    section = text[text.index("Cloud (ProviderName)") :]
    assert "Microsoft $" in section  # money as on the cards: $1,234.56
    assert "AWS $" in section
    assert "Amazon Web Services, Inc." in section


def test_second_run_does_not_ingest_the_aws_files_again(demo: tuple[Path, dict[str, Any]]) -> None:
    out, first = demo
    assert first["ingest"]["rows"] > 0
    again = _demo(out)
    assert again["ingest"]["rows"] == 0


def test_costs_summary_prints_provider_text_inert(tmp_path: Path) -> None:
    """A provider's or reseller's name from an export is untrusted: no rich markup, no terminal escapes."""
    f = tmp_path / "focus.csv"
    f.write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,SubAccountId,ProviderName,"
        "InvoiceIssuerName\n"
        '2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,1,1,USD,111122223333,AWS,"[red]Reseller[/red] \x1b[2J"\n'
    )
    ingest = runner.invoke(app, ["ingest", "cost", str(f), "--out", str(tmp_path / "store")])
    assert ingest.exit_code == 0, ingest.output
    result = runner.invoke(app, ["costs", "summary", "--data", str(tmp_path / "store"), "--by", "invoice-issuer"])
    assert result.exit_code == 0, result.output
    assert "[red]Reseller[/red]" in result.output
    assert "\x1b" not in result.output
    assert "\\x1b[2J" in result.output


def test_costs_summary_never_shows_a_blank_key_and_says_what_effective_cost_covers(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    """Issue 21: `costs summary` put the demo's BilledCost total beside an EffectiveCost that the EA exports
    do not carry, and showed the AWS rows' resource group as a blank key counting 0 rows."""
    out, _summary = demo
    data = out / "data" / "costs"
    rows, totals = summarize(data, "resource-group")
    keys = {r["key"] for r in rows}
    assert "" not in keys
    assert "(none: AWS, not Azure)" in keys  # resource groups are Azure's (docs/cost-frame.md)
    usd = totals["USD"]
    assert sum(r["rows"] for r in rows) == usd["rows"]
    assert 0 < usd["effective_rows"] < usd["rows"]  # the EA rows carry no EffectiveCost
    for by in ("service", "subscription", "resource-group"):
        result = runner.invoke(app, ["costs", "summary", "--data", str(data), "--by", by], terminal_width=80)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        total = next(ln for ln in lines if ln.startswith("total "))
        assert " *  " in total, total  # the partial effective total is marked ...
        assert f"* EffectiveCost covers only {usd['effective_rows']:,} of {usd['rows']:,} USD rows" in result.stdout
        assert "…" not in result.stdout  # ... and no key (a subscription id) is cut at its end
    subs = runner.invoke(app, ["costs", "summary", "--data", str(data), "--by", "subscription"], terminal_width=80)
    assert "6513270e-269e-4d37-b2a7-4de452e6b438" in subs.stdout


def test_costs_summary_writes_the_daily_series_detect_anomalies_reads(
    demo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """`--series` with --by day: timestamp,value of the daily BilledCost, equal to the table's rows, which
    `vigil detect anomalies` scores. Another grouping, or a store in two currencies, is refused."""
    out, _summary = demo
    series = tmp_path / "daily.csv"
    args = ["costs", "summary", "--data", str(out / "data" / "costs"), "--by", "day"]
    result = runner.invoke(app, [*args, "--series", str(series)])
    assert result.exit_code == 0, result.output
    rows, _totals = summarize(out / "data" / "costs", "day")
    written = list(csv.DictReader(io.StringIO(series.read_text(encoding="utf-8"))))
    assert [(w["timestamp"], Decimal(w["value"])) for w in written] == [
        (f"{r['key']}T00:00:00Z", Decimal(r["billed_cost"])) for r in rows
    ]
    scored = runner.invoke(
        app, ["detect", "anomalies", "-i", str(series), "-o", str(tmp_path / "s.csv"), "--profile", "cost"]
    )
    assert scored.exit_code == 0, scored.output
    wrong = runner.invoke(app, [*args[:-1], "service", "--series", str(series)])
    assert wrong.exit_code == 2
    assert "--series writes a daily series: use it with --by day" in wrong.output


def test_costs_summary_refuses_a_daily_series_across_currencies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from vigil.cli.cost_cmds import _write_series

    rows: list[dict[str, object]] = [
        {"key": "2026-11-01", "currency": "USD", "billed_cost": Decimal(1)},
        {"key": "2026-11-01", "currency": "EUR", "billed_cost": Decimal(2)},
    ]
    with pytest.raises(typer.Exit) as exit_info:
        _write_series(tmp_path / "d.csv", rows)
    assert exit_info.value.exit_code == 2
    assert "billed in EUR, USD; one daily series needs one currency" in capsys.readouterr().err
    assert not (tmp_path / "d.csv").exists()
