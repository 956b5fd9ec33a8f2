"""`vigil ingest cost` and `vigil costs summary`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import typer

ingest_app = typer.Typer(help="Ingest cost data into the normalized store.", no_args_is_help=True)
costs_app = typer.Typer(help="Read normalized cost data back.", no_args_is_help=True)

_BY = ("day", "service", "resource-group", "subscription", "provider", "invoice-issuer")


@ingest_app.command("cost")
def ingest_cost(
    paths: list[Path] = typer.Argument(..., help="Export files (CSV, CSV.gz, Parquet), folders or manifest.json."),
    out: Path = typer.Option(..., "--out", help="Folder of the normalized cost store."),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="actual or amortized, for EA/MCA files without a manifest (they share a header).",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Normalize Cost Management exports to FOCUS columns and store them as Parquet.

    The last stdout line is a JSON summary. Exit 0 when anything was read (bad rows go to the
    quarantine file named in the summary); exit 1 when nothing at all could be read.
    """
    from ingest.cost import ingest_paths

    if dataset is not None and dataset not in ("actual", "amortized"):
        raise typer.BadParameter("--dataset must be 'actual' or 'amortized'")
    with _one_message_per_problem():
        summary = ingest_paths(list(paths), out, progress=progress, dataset=dataset)
    for err in summary.errors:
        typer.echo(f"error: {err}", err=True)
    for warn in summary.warnings:
        typer.echo(f"warning: {warn}", err=True)
    if summary.rows_rejected:
        typer.echo(f"{summary.rows_rejected} rows rejected; see {summary.quarantine}", err=True)
    typer.echo(summary.to_json())
    if summary.files == 0:
        raise typer.Exit(1)


@contextmanager
def _one_message_per_problem() -> Iterator[None]:
    """While ingesting: each rejected row is printed once (``warning: <file> line <n> column <field>: ...``);
    a file's error is not printed by the log, since the command prints every error of the summary once.
    Without this, Python's last-resort log handler printed each error beside the command's own line."""
    logger = logging.getLogger("ingest")
    handler = logging.StreamHandler()  # stderr at call time (the test runner's, under CliRunner)
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: record.levelno < logging.ERROR)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@costs_app.command("summary")
def costs_summary(
    data: Path = typer.Option(..., "--data", help="Folder of the normalized cost store."),
    by: str = typer.Option(
        "day", "--by", help="day, service, resource-group, subscription, provider or invoice-issuer."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    series: Path | None = typer.Option(
        None,
        "--series",
        help="With --by day: also write the daily BilledCost as a timestamp,value CSV (what `vigil detect "
        "anomalies` reads).",
    ),
) -> None:
    """Totals of the stored costs (BilledCost and EffectiveCost), exact to the cent.

    Grouped by day, service, resource group, subscription, provider or invoice issuer (--by)."""
    if by not in _BY:
        raise typer.BadParameter(f"--by must be one of {', '.join(_BY)}")
    if series is not None and by != "day":
        raise typer.BadParameter("--series writes a daily series: use it with --by day")
    from ingest.cost.summary import summarize
    from vigil.cli.common import fail

    if not data.is_dir():
        raise fail(f"--data {data}: no such folder (the normalized cost store, e.g. out/costs)")
    rows, totals = summarize(data, by)
    if not rows:
        raise fail(f"--data {data}: no cost data in this folder (is it the normalized cost store?)")
    if series is not None:
        _write_series(series, rows)
    if as_json:
        typer.echo(
            json.dumps(
                {"by": by, "rows": rows, "totals": totals},
                default=lambda d: str(d) if isinstance(d, Decimal) else d,
            )
        )
        return
    from vigil.cli.common import shorten, table

    cells = [
        [
            # export text (a service, a provider's or reseller's name) is untrusted; an id is cut in its middle
            _inert(shorten(str(r["key"]), 40)),
            _inert(r["currency"]),
            _money(r["billed_cost"]),
            _money(r["effective_cost"]),
            f"{r['rows']:,}",
            f"{r['effective_rows']:,}",
        ]
        for r in rows
    ]
    partial: list[str] = []
    for cur, t in totals.items():
        mark = ""
        if t["effective_cost"] is not None and t["effective_rows"] < t["rows"]:
            mark = " *"
            partial.append(f"{t['effective_rows']:,} of {t['rows']:,} {cur} rows")
        cells.append(
            [
                "total",
                _inert(cur),
                _money(t["billed_cost"]),
                _money(t["effective_cost"]) + mark,
                f"{t['rows']:,}",
                f"{t['effective_rows']:,}",
            ]
        )
    headers = [by.upper(), "CURRENCY", "BILLED COST", "EFFECTIVE COST", "ROWS", "EFFECTIVE ROWS"]
    typer.echo(f"Costs by {by}\n" + table(headers, cells, right=frozenset({2, 3, 4, 5})))
    if partial:
        typer.echo(
            f"* EffectiveCost covers only {', '.join(partial)} (EFFECTIVE ROWS): EA/MCA actual-cost exports carry"
            " no EffectiveCost, so the two totals sum different rows and are not comparable."
        )


def _write_series(path: Path, rows: list[dict[str, object]]) -> None:
    """The daily BilledCost as ``timestamp,value`` rows. One currency only: a sum across currencies is
    not a cost, so a store billed in several is refused, naming them."""
    from vigil.cli.common import fail

    currencies = sorted({str(r["currency"]) for r in rows})
    if len(currencies) > 1:
        raise fail(f"--series: the store is billed in {', '.join(currencies)}; one daily series needs one currency")
    if not path.parent.is_dir():
        raise fail(f"--series {path}: no such folder {path.parent}")
    lines = ["timestamp,value", *(f"{r['key']}T00:00:00Z,{r['billed_cost']}" for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typer.echo(f"series: {len(rows)} days of BilledCost ({currencies[0]}) written to {path}", err=True)


def _inert(text: str) -> str:
    """Untrusted text for the terminal: control characters (ESC, ...) shown escaped, never sent."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _money(v: str | None) -> str:
    if v is None:
        return "-"
    return f"{Decimal(v):,.2f}"
