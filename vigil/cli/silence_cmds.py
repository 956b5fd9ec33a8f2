"""`vigil silence`: Create, list and expire silences."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil.cli.common import DEFAULT_STATE, STATE_HELP
from vigil.cli.common import now_or_clock as _now
from vigil.cli.common import open_state as _open

app = typer.Typer(help="Create, list and expire silences.", no_args_is_help=True)


@app.command("add")
def add(
    matcher: list[str] = typer.Option(
        ..., "--matcher", "-m", help='Matcher, e.g. alertname="vm_shutdown_candidate" (repeatable).'
    ),
    duration: str = typer.Option("24h", "--duration", "-d", help="How long, e.g. 2h, 24h, 7d."),
    comment: str = typer.Option(..., "--comment", "-c", help="Why this silence exists."),
    author: str = typer.Option(..., "--author", "-a", help="Who creates it."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the silence as JSON."),
    now: str | None = typer.Option(None, "--now", hidden=True, help="Evaluation time (ISO 8601), for tests."),
) -> None:
    """Create a silence; prints its id."""
    from alerts.durations import parse_duration
    from alerts.silences import SilenceError, create_silence

    try:
        td = parse_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--duration") from None
    store = _open(state, create=True)
    try:
        s = create_silence(store, matchers=matcher, duration=td, created_by=author, comment=comment, now=_now(now))
    except SilenceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(json.dumps(s.to_dict(), indent=2) if as_json else s.id)


@app.command("list")
def list_(
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    all_: bool = typer.Option(False, "--all", help="Include expired silences."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    now: str | None = typer.Option(None, "--now", hidden=True, help="Evaluation time (ISO 8601), for tests."),
) -> None:
    """List active and pending silences (with --all, expired ones too)."""
    from alerts.silences import list_silences

    t = _now(now)
    store = _open(state)
    try:
        items = [s for s in list_silences(store, now=t) if all_ or s.state(t) != "expired"]
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([{**s.to_dict(), "state": s.state(t)} for s in items], indent=2))
        return
    if not items:
        typer.echo("no silences")
        return
    from core.untrusted import strip_controls

    for s in items:  # matchers, author and comment are untrusted: no terminal escapes reach the terminal
        typer.echo(
            strip_controls(
                f"{s.id}  {s.state(t):8}  until {s.ends_at:%Y-%m-%d %H:%M}Z  by {s.created_by}  "
                f"{' '.join(s.matchers)}  # {s.comment}"
            )
        )


@app.command("expire")
def expire(
    silence_id: str = typer.Argument(..., help="Silence id."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    now: str | None = typer.Option(None, "--now", hidden=True, help="Evaluation time (ISO 8601), for tests."),
) -> None:
    """Expire a silence now."""
    from alerts.silences import SilenceError, expire_silence

    store = _open(state)
    try:
        s = expire_silence(store, silence_id, now=_now(now))
    except SilenceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"{s.id} expired at {s.ends_at.isoformat()}")
