"""`vigil remediate plan` and `vigil remediation log`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

remediate_app = typer.Typer(help="Plan remediation actions.", no_args_is_help=True)
remediation_app = typer.Typer(help="Inspect the remediation audit ledger.", no_args_is_help=True)


@remediate_app.command("plan")
def plan_cmd(
    tenant: Path = typer.Option(..., "--tenant", help="Tenant folder: resources/ gives the current state and tags."),
    config: Path | None = typer.Option(None, "--config", help="vigil.yaml (remediation section)."),
    findings: Path | None = typer.Option(
        None, "--findings", help="alerts.jsonl or finding lines (default: <tenant>/../alerts.jsonl)."
    ),
    now: str | None = typer.Option(None, "--now", help="Evaluation time, ISO 8601 (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per planned step."),
) -> None:
    """List what would be done and why, and which guard skipped what. Makes no change."""
    from alerts.remediation import plan
    from alerts.remediation.findings import read_findings, rule_actions_from_registry
    from vigil.cli.common import load_config_or_exit, now_or_clock
    from vigil.tenant import TenantFolder

    cfg = load_config_or_exit(config)
    src = findings or tenant.resolve().parent / "alerts.jsonl"
    if not src.exists():
        typer.echo(f"error: {src}: no findings; run `vigil run --tenant {tenant}` first or pass --findings", err=True)
        raise typer.Exit(2)
    try:
        found = read_findings(src.read_text(encoding="utf-8").splitlines(), str(src))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    when = now_or_clock(now)
    source = TenantFolder(tenant)
    from alerts.remediation.routing import mode_resolver

    steps = plan(
        found,
        resources=source.get,
        config=cfg.remediation,
        rule_actions=rule_actions_from_registry(),
        now=when,
        mode_for=mode_resolver(cfg),
    )
    for s in steps:
        if as_json:
            typer.echo(json.dumps(s.to_dict(), sort_keys=True))
        else:
            typer.echo(f"{s.decision:15} {s.action:36} {s.resource_id}\n{'':15} {s.reason}")
    if not as_json:
        typer.echo(f"{len(steps)} step(s); mode {cfg.remediation.mode}; no change was made")


@remediation_app.command("log")
def log_cmd(
    state: Path = typer.Option(Path("out/state.db"), "--state", help="SQLite state store (the CLI's default)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per ledger entry."),
) -> None:
    """Show the append-only remediation audit ledger: who approved what, when, before and after, the result."""
    from alerts.remediation.execute import ledger_entries
    from core.state import open_store

    if not state.exists():
        typer.echo(f"error: {state}: no state store", err=True)
        raise typer.Exit(2)
    store = open_store("sqlite", path=state)
    try:
        entries = list(ledger_entries(store))
    finally:
        store.close()
    for e in entries:
        if as_json:
            typer.echo(json.dumps(e, sort_keys=True))
        elif e.get("event") == "remediation_approved":
            labels = e.get("labels") or {}
            typer.echo(
                f"{e.get('at', '')}  approved  {labels.get('alertname', '?'):36} {labels.get('resource_id', '?')}\n"
                f"{'':27}by {e.get('by', '?')} (alert {e.get('fingerprint', '?')})"
            )
        else:
            typer.echo(
                f"{e['at']}  {e['result']:9} {e['action']:36} {e['resource_id']}\n"
                f"{'':27}by {e['approved_by']} ({e['mode']}), correlation {e['correlation_id']}: {e['detail']}"
            )
    if not as_json:
        typer.echo(f"{len(entries)} ledger entr{'y' if len(entries) == 1 else 'ies'}")
