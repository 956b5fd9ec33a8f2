"""`vigil digest`: the weekly finance digest, as HTML and optionally as an email (.eml)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("digest")(digest)


def digest(
    data: Path = typer.Option(..., "--data", help="Folder of normalized cost data (from `vigil ingest cost`)."),
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W47 (Monday to Sunday, UTC)."),
    out: Path = typer.Option(..., "--out", help="Write the standalone HTML digest here (chart embedded)."),
    findings: Path | None = typer.Option(
        None, "--findings", help="alerts.jsonl (or findings JSON lines) for anomalies, idle waste and drift."
    ),
    scope: list[str] = typer.Option(
        [],
        "--scope",
        help="Repeatable: subscription=<id>, resource-group=<name>, service=<name>, provider=<name>, "
        "invoice-issuer=<name>, tag=<key>=<value>.",
    ),
    currency: str | None = typer.Option(None, "--currency", help="Billing currency (default: the dominant one)."),
    budget: float | None = typer.Option(None, "--budget", help="Monthly budget for the scope, for the chart line."),
    eml: Path | None = typer.Option(None, "--eml", help="Also write the email (.eml, chart inline by Content-ID)."),
    sender: str = typer.Option("vigil@localhost", "--from", help="From address of the .eml."),
    to: list[str] = typer.Option([], "--to", help="Recipient of the .eml (repeatable)."),
    now: str | None = typer.Option(None, "--now", help="Generation time, ISO 8601 (default: now)."),
    state: Path | None = typer.Option(
        None, "--state", help="State store (SQLite) whose remediation ledger lists the actions taken."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the digest's figures as JSON."),
    config: Path | None = typer.Option(
        None, "--config", help="vigil.yaml: its display currency (display:) is shown beside the figures."
    ),
) -> None:
    """Render the weekly finance digest (HTML, optionally an email and JSON).

    Week totals, month to date against budget and forecast, an 8-week daily spend chart, top movers,
    the week's anomalies, idle waste and drift."""
    from alerts.digest import DigestError, build_digest, load_findings, parse_scope, parse_week, render
    from ingest.cost import load_costs
    from vigil.cli.common import load_config_or_exit

    display = load_config_or_exit(config).display if config is not None else None

    try:
        week_start = parse_week(week)
        scopes = [parse_scope(s) for s in scope]
        records = []
        if findings is not None:
            try:
                lines = findings.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise DigestError(f"{findings}: {exc.strerror or exc}") from None
            records = load_findings(lines, str(findings))
        when = datetime.fromisoformat(now) if now else datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    except (DigestError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not data.exists():
        typer.echo(f"error: {data}: no such folder of normalized cost data", err=True)
        raise typer.Exit(2)
    costs = load_costs(data, aggregate=True, categorical=True)
    ledger: list[dict[str, object]] = []
    if state is not None:
        from alerts.remediation.execute import ledger_entries
        from core.state import open_store

        store = open_store("sqlite", path=state)
        try:
            ledger = list(ledger_entries(store))
        finally:
            store.close()
    d = build_digest(
        costs,
        records,
        week_start=week_start,
        scopes=scopes,
        now=when,
        currency=currency,
        budget=budget,
        remediation_log=ledger,
    )
    rendered = render(d, display=display)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rendered.html_standalone, encoding="utf-8")
    if eml is not None:
        msg = rendered.to_email(sender=sender, recipients=to or ["finance@localhost"])
        eml.parent.mkdir(parents=True, exist_ok=True)
        eml.write_bytes(msg.as_bytes())
    if as_json:
        typer.echo(json.dumps(d.to_dict(), sort_keys=True))
    else:
        status = "" if d.has_data else f" (no data: {d.empty_reason})"
        typer.echo(f"wrote {out}{' and ' + str(eml) if eml else ''}: {d.iso_week}, scope {d.scope}{status}")
