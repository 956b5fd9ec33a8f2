"""`vigil alerts`: Triage alerts: list, acknowledge, inspect the outbox, test routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core.untrusted import strip_controls
from vigil.cli.common import DEFAULT_STATE, STATE_HELP, load_config_or_exit
from vigil.cli.common import now_or_clock as _now
from vigil.cli.common import open_state as _open

app = typer.Typer(help="Triage alerts: list, acknowledge, inspect the outbox, test routes.", no_args_is_help=True)
routes_app = typer.Typer(help="Test the routing tree offline (like amtool config routes).", no_args_is_help=True)
app.add_typer(routes_app, name="routes")


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="firing or resolved."),
    matcher: list[str] = typer.Option([], "--matcher", "-m", help='Filter, e.g. severity=~"high|critical".'),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    config: Path | None = typer.Option(None, "--config", help="vigil.yaml, to show inhibited alerts."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    now: str | None = typer.Option(None, "--now", hidden=True, help="Evaluation time (ISO 8601), for tests."),
) -> None:
    """List alerts with their silence, inhibition and acknowledgement state."""
    from alerts.acks import get_acks
    from alerts.alertstate import load_alerts
    from alerts.matchers import MatcherError, parse_matchers
    from alerts.pipeline import RESOLVED_RETENTION
    from alerts.remediation.execute import outcomes_for
    from alerts.silences import active_silences, silenced_by

    if status not in (None, "firing", "resolved"):
        raise typer.BadParameter("must be firing or resolved", param_hint="--status")
    try:
        ms = [m for text in matcher for m in parse_matchers(text)]
    except MatcherError as exc:
        raise typer.BadParameter(str(exc), param_hint="--matcher") from None
    t = _now(now)
    rules = []
    if config is not None:
        rules = list(load_config_or_exit(config).inhibit_rules)
    store = _open(state)
    try:
        from alerts.inhibit import Inhibitor

        alerts, _ = load_alerts(store, now=t, retention=RESOLVED_RETENTION)
        inhibitor = Inhibitor(rules, ((fp, a.labels) for fp, a in alerts.items() if a.firing))
        sil = active_silences(store, t)
        acks, outcomes = get_acks(store, alerts), outcomes_for(store, alerts)
        rows: list[dict[str, Any]] = []
        for fp, a in sorted(alerts.items(), key=lambda kv: (kv[1].starts_at, kv[0])):
            st = "firing" if a.firing else "resolved"
            if status and st != status:
                continue
            if not all(m.matches(a.labels) for m in ms):
                continue
            d = a.alert().to_dict()
            d["fingerprint"] = fp
            d["silenced_by"] = silenced_by(sil, a.labels)
            d["inhibited_by"] = inhibitor.inhibited_by(fp, a.labels)
            d["ack"] = acks.get(fp)
            d["remediation"] = outcomes.get(fp)
            rows.append(d)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        typer.echo("no alerts")
        return
    from vigil.cli.common import shorten, table

    cells = []
    for d in rows:
        lab = d["labels"]
        flags = []
        if d["silenced_by"]:
            flags.append("silenced")
        if d["inhibited_by"]:
            flags.append("inhibited")
        if d["ack"]:
            flags.append(f"acked by {d['ack']['by']}")
        if d["remediation"]:
            flags.append(d["remediation"])
        rid = lab.get("resource_id", "")
        cells.append(
            [
                strip_controls(x)  # labels and ack authors are untrusted text
                for x in (
                    d["fingerprint"],
                    d["status"],
                    lab.get("severity", ""),
                    lab.get("alertname", ""),
                    shorten(rid.rsplit("/", 1)[-1] if rid.startswith("/subscriptions/") else rid, 40),
                    d["startsAt"][:16].replace("T", " "),
                    ", ".join(flags),
                )
            ]
        )
    typer.echo(table(["FINGERPRINT", "STATUS", "SEVERITY", "ALERT", "RESOURCE", "SINCE (UTC)", "NOTES"], cells))


@app.command("ack")
def ack(
    fingerprint: str = typer.Argument(..., help="Alert fingerprint (from `vigil alerts list`)."),
    by: str = typer.Option(..., "--by", help="Who acknowledges."),
    comment: str = typer.Option("", "--comment", help="Note shown on later cards."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    now: str | None = typer.Option(None, "--now", hidden=True, help="Evaluation time (ISO 8601), for tests."),
) -> None:
    """Acknowledge an alert; later notifications show the acknowledgement."""
    from alerts.acks import acknowledge

    store = _open(state)
    try:
        acknowledge(store, fingerprint, by=by, comment=comment, now=_now(now))
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"{fingerprint} acknowledged by {by}")


@app.command("outbox")
def outbox(
    failed: bool = typer.Option(False, "--failed", help="Only notifications that gave up (poisoned)."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show the delivery state of queued notifications."""
    from dataclasses import asdict

    from alerts.outbox import entries as outbox_entries

    store = _open(state)
    try:
        entries = outbox_entries(store, failed=failed)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([asdict(e) for e in entries], indent=2, sort_keys=True))
        return
    if not entries:
        typer.echo("no failed notifications" if failed else "outbox is empty")
        return
    for e in entries:
        line = f"{e.key[:16]}  {e.state:7}  attempts={e.attempts}  {e.receiver}  alerts={e.alerts}  {e.group_key}"
        if e.last_error:
            line += f"  error: {e.last_error}"
        typer.echo(strip_controls(line))


@app.command("dispatch")
def dispatch(
    config: Path | None = typer.Option(None, "--config", help="vigil.yaml (receivers)."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help=STATE_HELP),
    outbox_dir: Path | None = typer.Option(
        None, "--outbox-dir", help="Write what would be sent into this folder instead of sending."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Deliver the notifications waiting in the alerts queue (one pass).

    The Function App's own queue handler (``vigil.handlers.dispatch_alert``) delivers them. A message
    that fails stays queued for the next pass; after 5 failed passes it moves to the poison queue, as
    in Azure."""
    from vigil import handlers
    from vigil.runtime_local import LocalRuntime, local_link_signing

    cfg = load_config_or_exit(config)
    store = _open(state)
    try:
        folder = state.parent
        rt = LocalRuntime(cfg, store, folder / "data", settings=local_link_signing(folder), sink=outbox_dir)
        queue = rt.setting("ALERTS_QUEUE") or "vigil-alerts"
        res = rt.drain(queue, lambda message: handlers.dispatch_alert(message, rt))
    finally:
        store.close()
    out = {"delivered": res.processed, "retried": res.failed - res.poisoned, "failed": res.poisoned}
    typer.echo(
        json.dumps(out)
        if as_json
        else f"delivered {out['delivered']}, retrying {out['retried']}, failed {out['failed']}"
    )


@routes_app.command("test")
def routes_test(
    labels: list[str] = typer.Argument(None, help="Alert labels as name=value."),
    config: Path = typer.Option(..., "--config", help="vigil.yaml or alertmanager.yml."),
    tree: bool = typer.Option(False, "--tree", help="Print the routing tree."),
    verify_receivers: str | None = typer.Option(
        None, "--verify-receivers", help="Comma-separated receivers expected; exit 1 when different."
    ),
) -> None:
    """Print the receivers an alert with these labels goes to, one per line, in route order."""
    import yaml

    from alerts.routing import RoutingError, compile_routes
    from vigil.config import ConfigError, parse_config

    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        typer.echo(f"{config}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        cfg = parse_config(data, str(config))
        root = compile_routes(cfg.route, list(cfg.receivers), cfg.all_time_intervals)
    except (ConfigError, RoutingError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if tree:
        for line in root.tree():
            typer.echo(line)
        if not labels:
            return
    lset: dict[str, str] = {}
    for item in labels or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected name=value, got {item!r}", param_hint="LABELS")
        lset[name.strip()] = value.strip().strip('"')
    receivers = [r.opts.receiver for r in root.match(lset)]
    for r in receivers:
        typer.echo(r)
    if verify_receivers is not None:
        want = [x.strip() for x in verify_receivers.split(",") if x.strip()]
        if want != receivers:
            typer.echo(f"WARNING: expected receivers {want}, got {receivers}", err=True)
            raise typer.Exit(1)
