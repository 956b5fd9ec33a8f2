"""`vigil events`: Replay Event Grid events through the function's handler."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from vigil.cli.common import fail as _fail
from vigil.cli.common import load_config_or_exit, open_state

app = typer.Typer(help="Replay Event Grid events through the function's handler.", no_args_is_help=True)


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise _fail(f"{path}: cannot read JSON: {exc}") from None
    items = doc if isinstance(doc, list) else [doc]
    return [x if isinstance(x, dict) else {"_invalid": x} for x in items]


def _alert_states(store: Any) -> dict[str, tuple[str, str, str]]:
    """fingerprint -> (status, rule, resource) of every stored alert (read only: nothing is pruned)."""
    from alerts.alertstate import AlertRecord
    from core.state.base import Namespace

    out = {}
    for rec in store.query(Namespace.ALERTS):
        a = AlertRecord.from_dict(rec.key, rec.value, rec.etag)
        rid = a.labels.get("resource_id", "")
        out[rec.key] = ("firing" if a.firing else "resolved", a.labels.get("alertname", ""), rid)
    return out


def _transitions(before: dict[str, tuple[str, str, str]], after: dict[str, tuple[str, str, str]]) -> list[str]:
    from core.untrusted import strip_controls
    from vigil.cli.common import table

    rows = [
        [status, rule, rid.rsplit("/", 1)[-1] if rid.startswith("/subscriptions/") else rid, rid]
        for fp, (status, rule, rid) in sorted(after.items(), key=lambda kv: kv[1])
        if before.get(fp, ("",))[0] != status
    ]
    if not rows:
        return []
    return [strip_controls(line) for line in table(["STATUS", "RULE", "RESOURCE", "RESOURCE ID"], rows).splitlines()]


@app.command("replay")
def replay(
    files: list[Path] = typer.Argument(
        None, help="Event Grid delivery files (JSON array or one event). Default: <tenant>/events/*.json."
    ),
    tenant: Path = typer.Option(..., "--tenant", help="Tenant folder: resources/ are read as ARM GET responses."),
    config: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml (default: built-in defaults)."),
    state: Path = typer.Option(Path("out/state.db"), "--state", help="SQLite state file (verdicts, event ids)."),
    out: Path = typer.Option(Path("out"), "--out", help="Folder for local blobs and queues."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per file with the handler's result."),
) -> None:
    """Feed events through ``vigil.handlers.handle_resource_events``, the Function's own handler.

    Duplicates (same event id) are dropped, verdict transitions persist in
    --state, so replaying a file twice fires nothing the second time. Each file's
    line is followed by its alert transitions: status, rule, resource.
    """
    from vigil import handlers
    from vigil.runtime_local import LocalRuntime

    if not tenant.is_dir():
        raise _fail(f"{tenant}: tenant folder does not exist")
    if not files:
        files = sorted((tenant / "events").glob("*.json"))
        if not files:
            raise _fail(f"no event files given and none in {tenant / 'events'}")
    cfg = load_config_or_exit(config)
    store = open_state(state, create=True)
    out.mkdir(parents=True, exist_ok=True)
    rt = LocalRuntime(cfg, store, out, settings={handlers.TENANT_DIR: str(tenant)})
    totals: dict[str, int] = {}
    from core.sources import SourceError
    from detectors.drift.engine import PolicyLoadError

    try:
        for path in files:
            before = _alert_states(store)
            try:
                result = handlers.handle_resource_events(_read_events(path), rt)
            except (SourceError, PolicyLoadError) as exc:
                raise _fail(str(exc)) from None
            counts = result.get("drift", {})
            for k, v in counts.items():
                if isinstance(v, int):
                    totals[k] = totals.get(k, 0) + v
            if as_json:
                sys.stdout.write(json.dumps({"file": str(path), **result}, default=str, sort_keys=True) + "\n")
            else:
                typer.echo(f"{path}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
                for line in _transitions(before, _alert_states(store)):
                    typer.echo(f"  {line}")
    finally:
        store.close()
    if not as_json:
        typer.echo("total: " + ", ".join(f"{k}={v}" for k, v in totals.items()), err=True)
