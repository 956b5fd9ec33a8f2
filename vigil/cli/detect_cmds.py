"""`vigil detect`: Run detectors offline: anomalies, overspend, idle.

Each command is a self-contained function registered on ``app``; adding a
detector (``detect idle``) means adding one more ``@app.command`` function here,
reusing the shared helpers below (``_emit_findings``, ``_resolve_now``,
``_load_config``). Heavy imports (pandas) stay inside commands.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vigil.cli.common import fail as _fail
from vigil.cli.common import load_config_or_exit as _load_config
from vigil.cli.common import parse_now as _parse_now

if TYPE_CHECKING:
    import pandas as pd

    from core.model import Finding

app = typer.Typer(help="Run detectors offline: anomalies, overspend, idle.", no_args_is_help=True)


# ---------------------------------------------------------------- shared helpers


def _resolve_now(value: str | None, data: Path | None = None) -> datetime:
    """``--now`` if given, else the tenant folder's ``tenant.json`` "now", else the clock."""
    now = _parse_now(value)
    if now is not None:
        return now
    if data is not None and (data / "tenant.json").is_file():
        try:
            meta = json.loads((data / "tenant.json").read_text(encoding="utf-8"))
            raw = meta.get("now") if isinstance(meta, dict) else None
            if raw:
                parsed = _parse_now(str(raw))
                if parsed is not None:
                    return parsed
        except (OSError, ValueError):
            pass
    return datetime.now(UTC)


def _overspend_amount(f: Finding) -> str:
    """The money a finding is about: a budget's spend against its amount, else the excess over expected."""
    ev, cur = f.evidence, f.evidence.get("currency", "")
    if ev.get("amount") is not None and ev.get("actual") is not None:  # a budget
        amount = float(ev["amount"])
        forecast = ev.get("forecast")
        if f.labels.get("threshold", "").startswith("forecast") and isinstance(forecast, dict):
            total = float(forecast["total"])
            return f"forecast {total:,.2f} of {amount:,.2f} {cur} ({total / amount * 100:.1f}%)"
        return f"{float(ev['actual']):,.2f} of {amount:,.2f} {cur} ({ev.get('actual_percent', 0):g}%)"
    if ev.get("impact") is not None:
        return f"{float(ev['impact']):+,.2f} {cur}"
    return ""


def _overspend_scope(f: Finding) -> str:
    """A budget's name and threshold (``all (actual>=80%)``), else the scope the anomaly is on."""
    if f.labels.get("budget"):
        return f"{f.labels['budget']} ({f.labels.get('threshold', '')})"
    return f.labels.get("scope", f.resource.id)


def _emit_findings(
    findings: Iterable[Finding],
    *,
    as_json: bool,
    columns: dict[str, Callable[[Finding], str]],
    right: frozenset[int] = frozenset(),
) -> int:
    """One JSON line per finding (``--json``), or an aligned table of ``columns`` (header -> cell). Cells are
    untrusted text (scopes, service and resource names come from cost exports and ARM), so control
    characters are stripped before they reach the terminal. Returns the count."""
    from core.untrusted import strip_controls
    from vigil.cli.common import table

    if as_json:
        count = 0
        for f in findings:
            sys.stdout.write(json.dumps(f.to_dict(), sort_keys=True, default=str) + "\n")
            count += 1
        return count
    rows = [[strip_controls(cell(f)) for cell in columns.values()] for f in findings]
    if rows:
        typer.echo(table(list(columns), rows, right=right))
    return len(rows)


# ---------------------------------------------------------------- detect anomalies


@app.command("anomalies")
def anomalies(
    input: Path = typer.Option(..., "--input", "-i", help="CSV with columns timestamp,value.", exists=False),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write: timestamp,value,anomaly_score,is_anomaly."),
    profile: str = typer.Option("metric", "--profile", help="cost (daily/hourly spend) or metric (generic)."),
    sensitivity: float | None = typer.Option(None, "--sensitivity", help="Robust z at which a row is anomalous."),
    min_impact: float = typer.Option(0.0, "--min-impact", help="cost profile: least excess over expected."),
    holidays: str = typer.Option("US", "--holidays", help="cost profile: holiday calendar (US, XMAS or none)."),
    incomplete_days: int = typer.Option(
        0, "--incomplete-days", min=0, help="cost profile: newest rows still incomplete (restated later)."
    ),
) -> None:
    """Score a time series causally: each row's score uses only the rows up to it.

    Rows that cannot be judged (warm-up, missing value) get an empty score and
    verdict; the reason is printed on stderr.
    """
    import numpy as np
    import pandas as pd

    from detectors.anomaly import PROFILES, TimestampError, score_timeseries

    if profile not in PROFILES:
        raise _fail(f"--profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    if holidays.lower() != "none":
        from detectors.anomaly.holidays import holidays_in

        try:
            holidays_in(2024, holidays)
        except ValueError as exc:
            raise _fail(f"--holidays: {exc}") from None
    try:
        frame = pd.read_csv(input)
    except (OSError, ValueError) as exc:
        raise _fail(f"{input}: cannot read CSV: {exc}") from None
    missing = [c for c in ("timestamp", "value") if c not in frame.columns]
    if missing:
        raise _fail(f"{input}: missing column(s) {', '.join(missing)}; expected timestamp,value")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = frame.index[values.isna() & frame["value"].notna()]
    if len(bad):
        typer.echo(f"warning: {input}: {len(bad)} non-numeric value(s), first at row {int(bad[0]) + 2}", err=True)
    try:
        scores = score_timeseries(
            frame["timestamp"],
            values.to_numpy(dtype=float),
            profile="cost" if profile == "cost" else "metric",
            sensitivity=sensitivity,
            min_impact=min_impact,
            holidays=None if holidays.lower() == "none" else holidays,
            provisional=incomplete_days,
        )
    except TimestampError as exc:
        raise _fail(f"{input}: CSV row {exc.row + 2}: {str(exc).split(': ', 1)[-1]}") from None
    except ValueError as exc:
        raise _fail(f"{input}: {exc}") from None
    out = pd.DataFrame(
        {
            "timestamp": frame["timestamp"],
            "value": frame["value"],
            "anomaly_score": pd.Series(np.round(scores.score, 6)).astype("Float64"),
            "is_anomaly": pd.Series(scores.is_anomaly).astype("boolean").mask(~scores.judged),
        }
    )
    out.to_csv(output, index=False)
    judged = int(scores.judged.sum())
    if scores.reason:
        typer.echo(f"{input}: no verdict for any row: {scores.reason}", err=True)
    elif judged < len(scores):
        first = next(r for r in scores.reasons if r)
        typer.echo(f"{input}: {len(scores) - judged} row(s) without verdict (e.g. {first})", err=True)
    typer.echo(f"{output}: {len(scores)} rows, {int(scores.is_anomaly.sum())} anomalous", err=True)


# ---------------------------------------------------------------- detect overspend


def load_cost_frame(data: Path) -> pd.DataFrame:
    """Costs from DIR: a Vigil cost store (``vigil ingest`` output), a tenant folder or export
    files (ingested into a temporary store), or normalized CSV/Parquet files."""
    import tempfile

    import pandas as pd

    from ingest.cost import ingest_paths, load_costs

    frame = load_costs(data)
    if not frame.empty:
        return frame
    raw = data / "exports" if (data / "exports").is_dir() else data
    normalized = _normalized_files(raw)
    if normalized:
        parts = [pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in normalized]
        return pd.concat(parts, ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="vigil-costs-") as tmp:
        summary = ingest_paths([raw], Path(tmp))
        for err in getattr(summary, "errors", [])[:5]:
            typer.echo(f"warning: {err}", err=True)
        return load_costs(Path(tmp))


def _normalized_files(folder: Path) -> list[Path]:
    """Files that already hold the core/costframe.py columns (header has ChargePeriodStart and x_SourceRunId)."""
    out = []
    for p in sorted(folder.glob("*.csv")):
        try:
            with p.open(encoding="utf-8-sig") as fh:
                header = fh.readline()
        except OSError:
            continue
        if "ChargePeriodStart" in header and "x_SourceRunId" in header:
            out.append(p)
    return out


@app.command("overspend")
def overspend(
    data: Path = typer.Option(..., "--data", "-d", help="Cost store, tenant folder or export folder."),
    config: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml (budgets, sensitivity)."),
    now: str | None = typer.Option(None, "--now", help="ISO time to evaluate at (default: tenant.json or clock)."),
    day: list[str] = typer.Option([], "--day", help="Day(s) to check for anomalies (default: newest day)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per finding on stdout."),
) -> None:
    """Budgets (actual and forecast) and cost anomalies with their root cause."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from detectors.overspend import detect

    if not data.exists():
        raise _fail(f"--data {data}: no such directory")
    cfg = _load_config(config)
    when = _resolve_now(now, data)
    try:
        days = [date.fromisoformat(d) for d in day] or None
    except ValueError as exc:
        raise _fail(f"--day: {exc}") from None
    columns = (SpinnerColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("loading costs", total=None)
        costs = load_cost_frame(data)
        bar.update(task, description=f"detecting overspend over {len(costs)} cost rows")
        findings = detect(costs, config=cfg.detectors.overspend, now=when, days=days)
    if costs.empty:
        typer.echo(f"warning: {data}: no cost rows found", err=True)
    table_columns: dict[str, Callable[[Finding], str]] = {
        "STATUS": lambda f: f.status.value,
        "SEVERITY": lambda f: f.severity.value,
        "RULE": lambda f: f.rule,
        "KIND": lambda f: f.labels.get("scope_kind", ""),
        "SCOPE": _overspend_scope,
        "DAY": lambda f: str(f.evidence.get("day") or f.evidence.get("crossed_on") or ""),
        "AMOUNT": _overspend_amount,
    }
    n = _emit_findings(findings, as_json=as_json, columns=table_columns, right=frozenset({6}))
    firing = sum(1 for f in findings if f.status.value == "firing")
    typer.echo(f"{n} finding(s), {firing} firing, at {when.isoformat()}", err=True)


# ---------------------------------------------------------------- detect idle (idle-compute engineer)


def _idle_line(f: Finding) -> dict[str, Any]:
    """A finding as one JSON object, with the rule, resource id and monthly waste at the top level."""
    out = f.to_dict()
    waste = f.annotations.get("monthly_waste")
    out.update(
        resource_id=f.resource.id,
        monthly_waste=float(waste) if waste is not None else None,
        currency=f.annotations.get("currency"),
        waste_basis=f.annotations.get("waste_basis"),
    )
    return out


def _idle_waste(f: Finding) -> str:
    waste = f.annotations.get("monthly_waste")
    return f"{float(waste):,.2f} {f.annotations.get('currency', '')}" if waste else ""


@app.command("idle")
def idle(
    tenant: Path = typer.Option(..., "--tenant", "-t", help="Tenant folder (resources/, metrics/, exports/)."),
    data: Path | None = typer.Option(
        None, "--data", "-d", help="Cost store or export folder (default: the tenant's exports)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml (detectors.idle thresholds)."),
    now: str | None = typer.Option(None, "--now", help="ISO time to evaluate at (default: tenant.json or clock)."),
    previous: Path | None = typer.Option(
        None, "--previous", help="JSON lines of earlier findings: firing ones whose resource is gone resolve."
    ),
    show_all: bool = typer.Option(False, "--all", help="Also print RESOLVED findings."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per finding on stdout."),
) -> None:
    """Idle and wasted resources (VMs, Azure ML compute, disks, public IPs), each with its monthly waste."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from core.model import Finding, Status
    from core.sources import SourceError
    from detectors.idle.detect import detect
    from vigil.tenant import TenantFolder

    if not tenant.is_dir():
        raise _fail(f"--tenant {tenant}: no such directory")
    if data is not None and not data.exists():
        raise _fail(f"--data {data}: no such directory")
    cfg = _load_config(config)
    when = _resolve_now(now, tenant)
    before: list[Finding] = []
    if previous is not None:
        try:
            lines = previous.read_text(encoding="utf-8").splitlines()
            before = [Finding.from_dict(json.loads(ln)) for ln in lines if ln.strip()]
        except (OSError, ValueError, KeyError) as exc:
            raise _fail(f"--previous {previous}: {exc}") from None
    columns = (SpinnerColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading resources and metrics", total=None)
        source = TenantFolder(tenant)
        try:
            resources = source.list()
            metrics = source.all_series()
        except SourceError as exc:
            raise _fail(str(exc)) from None
        bar.update(task, description="loading costs")
        costs = load_cost_frame(data if data is not None else tenant)
        bar.update(task, description=f"detecting idle resources among {len(resources)}")
        findings = detect(
            resources=resources,
            metrics=metrics,
            costs=costs,
            config=cfg.detectors.idle,
            now=when,
            previous=before if previous is not None else None,
        )
    shown = [f for f in findings if show_all or f.status is Status.FIRING]
    if as_json:
        for f in shown:
            sys.stdout.write(json.dumps(_idle_line(f), sort_keys=True, default=str) + "\n")
    else:
        table_columns: dict[str, Callable[[Finding], str]] = {
            "STATUS": lambda f: f.status.value,
            "RULE": lambda f: f.rule,
            "RESOURCE": lambda f: f.resource.id,
            "WASTE/MONTH": _idle_waste,
            "BASIS": lambda f: str(f.annotations.get("waste_basis") or ""),
        }
        _emit_findings(shown, as_json=False, columns=table_columns, right=frozenset({3}))
    firing = [f for f in findings if f.status is Status.FIRING]
    total = sum(float(f.annotations.get("monthly_waste", 0) or 0) for f in firing)
    typer.echo(
        # RESOLVED findings are the resources checked and found busy: on a first run nothing "resolved".
        f"{len(firing)} idle, {len(findings) - len(firing)} checked and in use; "
        f"waste {total:.2f}/month at {when.isoformat()}",
        err=True,
    )
