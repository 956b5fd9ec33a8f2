"""`vigil demo` and `vigil run`: the whole pipeline, over a simulated or a given tenant folder."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from vigil.cli.common import fail, load_config_or_exit, open_state, parse_now

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "pipeline_demo.yaml"


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _print_summary(summary: dict[str, Any], *, as_json: bool) -> None:
    if not as_json:
        fam = summary["alerts"].get("by_family", {})
        lines = [
            f"tenant:        {summary['tenant']}",
            f"now:           {summary['now']}",
            f"cost rows:     {summary['sources'].get('cost_rows', 0)} "
            f"(ingested {summary['ingest'].get('rows', 0)} rows from {summary['ingest'].get('runs_ingested', 0)} "
            f"export runs, {summary['ingest'].get('runs_skipped', 0)} already ingested)",
            f"resources:     {summary['sources'].get('resources', 0)}, metrics for "
            f"{summary['sources'].get('metric_resources', 0)}, events {summary['sources'].get('events', 0)}",
            "alerts:        "
            + (
                ", ".join(f"{k}: {v.get('firing', 0)} firing, {v.get('resolved', 0)} resolved" for k, v in fam.items())
                or "none"
            ),
            f"notifications: {summary['notifications'].get('sent', 0)} written to {summary['out_dir']}/outbox/ "
            f"({len(summary['outbox_files'])} new files)",
            f"alerts.jsonl:  {summary['out_dir']}/alerts.jsonl",
            f"digest:        {summary['out_dir']}/digest.html ({summary['digest']})",
            f"took:          {summary['duration_s']:.1f} s",
        ]
        for w in summary.get("warnings", []):
            lines.append(f"warning:       {w}")
        for failed in [s for s in summary.get("source_status", []) if not s.get("ok")]:
            lines.append(f"FAILED:        {failed['source']} ({failed['reads']}): {failed.get('error', '')}")
        typer.echo("\n".join(lines))
    else:
        typer.echo(json.dumps(summary, sort_keys=True, default=str))


def _run(tenant: Path, *, config_path: Path | None, now: datetime | None, out: Path, as_json: bool) -> dict[str, Any]:
    from core.sources import SourceError
    from vigil.pipeline import STATE_FILE, PipelineError, run_tenant
    from vigil.tenant import TenantFolder

    try:
        source = TenantFolder(tenant)
    except SourceError as exc:
        raise fail(str(exc)) from None
    config = load_config_or_exit(config_path or DEMO_CONFIG)
    when = now or source.now or datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    store = open_state(out / STATE_FILE, create=True)
    try:
        tty = sys.stderr.isatty()
        summary = run_tenant(
            source, config=config, store=store, out_dir=out, now=when, progress=tty, report=None if tty else _err
        )
    except (PipelineError, SourceError) as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    result = summary.to_dict()
    result["config"] = str(config_path or DEMO_CONFIG)
    return result


def _run_live(config_path: Path, *, now: datetime | None, out: Path, dry_run: bool) -> dict[str, Any]:
    """``vigil run`` without --tenant: the configured scopes, with DefaultAzureCredential."""
    from vigil.pipeline import STATE_FILE, PipelineError, live_config_problem, run_live

    config = load_config_or_exit(config_path)
    problem = live_config_problem(config)
    if problem:  # before OUT and its state exist
        raise fail(f"{config_path}: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    store = open_state(out / STATE_FILE, create=True)
    try:
        summary = run_live(
            config=config,
            store=store,
            out_dir=out,
            now=now or datetime.now(UTC),
            dry_run=dry_run,
            progress=sys.stderr.isatty(),
            report=None if sys.stderr.isatty() else _err,
        )
    except PipelineError as exc:
        raise fail(str(exc), 2) from None
    finally:
        store.close()
    result = summary.to_dict()
    result["config"] = str(config_path)
    return result


def _looks_like_vigil_out(folder: Path) -> bool:
    markers = ("state.db", "tenant", "alerts.jsonl", "outbox", "data", "digest.html", ".signing-key")
    return all(p.name in markers or p.name.startswith("state.db") for p in folder.iterdir())


def register(app: typer.Typer) -> None:
    """Adds the ``demo`` and ``run`` commands."""

    @app.command("demo")
    def demo(
        fresh: bool = typer.Option(False, "--fresh", help="Delete OUT first and start over (new tenant, new state)."),
        out: Path = typer.Option(Path("out"), "--out", help="Output folder (tenant, state, outbox, reports)."),
        seed: int | None = typer.Option(None, "--seed", help="Simulator seed (default: the fixed demo seed)."),
        as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON (last stdout line)."),
    ) -> None:
        """Simulate a tenant into OUT/tenant (unless present), then run exactly `vigil run` over it.

        The simulated tenant (3 subscriptions, 60 resources, 90 days of EA and
        FOCUS cost exports, hourly metrics, Event Grid events, activity log) has
        eight planted problems: a cost spike, an idle VM, an idle Azure ML GPU
        compute instance, an Azure ML workspace opened to public network access,
        a storage account breaking the organisation's own Azure Policy
        assignment, and in the activity log an Owner grant to a guest, a deleted
        diagnostic setting and a user listing storage keys. The periodic drift
        evaluation (the sweep) finds a ninth, unplanted: the compute instance
        ci-bob has no idle shutdown. Notifications are written to OUT/outbox/
        (Teams cards, emails) instead of being sent. Running the demo twice
        sends nothing new; --fresh starts over.
        """
        from vigil.simulate import DEFAULT_SEED, simulate

        if fresh and out.exists():
            if not _looks_like_vigil_out(out):
                _err(f"error: --fresh: {out} holds files Vigil did not write; refusing to delete it")
                raise typer.Exit(2)
            shutil.rmtree(out)
        tenant = out / "tenant"
        chosen = DEFAULT_SEED if seed is None else seed
        if (tenant / "tenant.json").exists():
            meta = json.loads((tenant / "tenant.json").read_text(encoding="utf-8"))
            if seed is not None and meta.get("seed") != seed:
                _err(f"note: {tenant} was simulated with seed {meta.get('seed')}; use --fresh to re-simulate")
        else:
            if tenant.exists():
                shutil.rmtree(tenant)  # a half-written simulation: tenant.json is written last
            simulate(tenant, seed=chosen, progress=sys.stderr.isatty())
        summary = _run(tenant, config_path=None, now=None, out=out, as_json=as_json)
        _print_summary(summary, as_json=as_json)

    @app.command("run")
    def run(
        tenant: Path | None = typer.Option(
            None,
            "--tenant",
            help="Tenant folder (resources/, metrics/, exports/, events/, activity/). Without it: live Azure.",
        ),
        config: Path | None = typer.Option(
            None,
            "--config",
            help="vigil.yaml (required without --tenant; default in tenant mode: the demo routing, "
            "writing to OUT/outbox/).",
        ),
        now: str | None = typer.Option(
            None,
            "--now",
            help="Evaluate as of this ISO time (default: the tenant's tenant.json 'now', else the clock).",
        ),
        out: Path = typer.Option(Path("out"), "--out", help="Output folder: state.db, data/, outbox/, reports."),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Send nothing: write every notification to OUT/outbox/ (a tenant-folder run always does).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON (last stdout line)."),
    ) -> None:
        """Run the pipeline once: ingest -> detect (overspend, idle, drift, activity) -> alerts -> outbox.

        With --tenant, over a tenant folder (docs/tenant-layout.md). Without it,
        against the config's scopes in Azure with DefaultAzureCredential (your
        `az login`): the cost export container (sources.cost_exports.account_url)
        or the Cost Management Query API, Resource Graph, Azure Monitor metrics
        and the activity log, through the handlers the Function App's timers run.
        Each source's line goes to stderr; a source that fails is named and the
        others still run (exit 1).

        Writes OUT/alerts.jsonl, OUT/digest.html and, in tenant mode or with
        --dry-run, one file per notification in OUT/outbox/. State (processed
        events, ingested export runs, alert state, notification log) is kept in
        OUT/state.db, so a second run sends no duplicate notification.
        """
        when = parse_now(now)
        if tenant is None:
            if config is None:
                _err("error: live mode (no --tenant) needs --config vigil.yaml naming the scopes to read")
                raise typer.Exit(2)
            summary = _run_live(config, now=when, out=out, dry_run=dry_run)
        else:
            summary = _run(tenant, config_path=config, now=when, out=out, as_json=as_json)
        _print_summary(summary, as_json=as_json)
        if any(not s.get("ok") for s in summary.get("source_status", [])):
            raise typer.Exit(1)
