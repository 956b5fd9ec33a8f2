"""The batch pipeline behind ``vigil run`` and ``vigil demo``.

:func:`run_tenant` runs, in order:

1. **ingest** - cost export runs (manifest.json + parts) into ``out_dir/data`` via
   ``ingest.cost`` (each export run is checkpointed in the state store, so a
   second run skips it); resources, metrics and events are read from the source;
2. **detect** - overspend on the normalized costs, idle on resources + metrics +
   costs, drift through the event path (``vigil.drift_path``: dedup by event id,
   resource read from the source, rules evaluated, verdict transitions);
3. **alert** - ``alerts.pipeline.process`` (state, inhibit, silence, route,
   group, dedup) into the state-store outbox, then ``alerts.dispatch`` delivers
   with a directory sink: the exact Teams/webhook JSON and .eml files land in
   ``out_dir/outbox/``;
4. **report** - ``out_dir/alerts.jsonl`` (one alert per line) and
   ``out_dir/digest.html`` (:mod:`vigil.pipeline_digest`).

State lives in SQLite (``out_dir/state.db``): processed event ids, export run
checkpoints, alert state and the notification log, so running twice sends no
duplicate notification. In a batch run, ``group_wait`` is treated as elapsed at
the end of the run (the groups are flushed once at the due time, at most
``FLUSH_HORIZON`` after ``now``) - waiting in real time would only delay the batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.model import Finding, Status
from core.sources import SourceError
from core.state.base import Namespace, StateStore
from vigil.config import VigilConfig
from vigil.tenant import TenantFolder

__all__ = ["FLUSH_HORIZON", "PipelineError", "RunSummary", "run_tenant"]

log = logging.getLogger(__name__)

FLUSH_HORIZON = timedelta(minutes=15)
DATA_DIR = "data"
OUTBOX_DIR = "outbox"
ALERTS_FILE = "alerts.jsonl"
DIGEST_FILE = "digest.html"
STATE_FILE = "state.db"


class PipelineError(RuntimeError):
    """A step failed in a way the run cannot continue from; the message names the step."""


@dataclass
class RunSummary:
    tenant: str
    out_dir: str
    now: str
    ingest: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, dict[str, int]] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    outbox_files: list[str] = field(default_factory=list)
    digest: str = ""
    steps_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "out_dir": self.out_dir,
            "now": self.now,
            "ingest": self.ingest,
            "sources": self.sources,
            "drift": self.drift,
            "findings": self.findings,
            "alerts": self.alerts,
            "notifications": self.notifications,
            "outbox_files": self.outbox_files,
            "digest": self.digest,
            "steps_s": self.steps_s,
            "warnings": self.warnings,
            "duration_s": self.duration_s,
        }


# ----------------------------------------------------------------------------- progress


class _Steps:
    """One rich progress bar on stderr over the pipeline's steps (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("vigil run: {task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=total)

    def start(self, label: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=label)

    def done(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description="done")
            self._progress.stop()


@contextmanager
def _timed(summary: RunSummary, steps: _Steps, name: str) -> Iterator[None]:
    steps.start(name)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        summary.steps_s[name] = round(time.perf_counter() - t0, 3)
        steps.done()


# ----------------------------------------------------------------------------- steps


def ingest_costs(tenant: TenantFolder, data_dir: Path, store: StateStore, *, progress: bool) -> dict[str, Any]:
    """Ingest every export run not yet checkpointed; returns counts."""
    from ingest.cost import ingest_paths

    runs = tenant.runs()
    fresh = [r for r in runs if store.get(Namespace.CHECKPOINTS, _run_key(r.run_id, r.manifest_path)) is None]
    focus = tenant.focus_files()  # other clouds' FOCUS files: one more run, keyed by their names and sizes
    listing = "\n".join(f"{p.relative_to(tenant.root)}|{p.stat().st_size}" for p in focus)
    focus_key = "focus-files:" + hashlib.sha256(listing.encode()).hexdigest()[:20]
    focus_fresh = bool(focus) and store.get(Namespace.CHECKPOINTS, focus_key) is None
    out: dict[str, Any] = {
        "export_runs": len(runs) + bool(focus),
        "runs_ingested": 0,
        "runs_skipped": len(runs) - len(fresh) + (bool(focus) and not focus_fresh),
    }
    if not fresh and not focus_fresh:
        out.update(rows=0, rows_rejected=0, files=0, files_failed=0)
        return out
    paths = [r.manifest_path for r in fresh] + (focus if focus_fresh else [])
    summary = ingest_paths(paths, data_dir, progress=progress)
    out.update(
        runs_ingested=summary.runs,
        runs_stale=summary.runs_stale,
        rows=summary.rows,
        rows_rejected=summary.rows_rejected,
        files=summary.files,
        files_failed=summary.files_failed,
        quarantine=summary.quarantine,
        errors=list(summary.errors),
        warnings=list(summary.warnings),
    )
    if summary.files_failed:
        # Leave the run un-checkpointed so the next run retries the failed files.
        return out
    for r in fresh:
        store.put(
            Namespace.CHECKPOINTS,
            _run_key(r.run_id, r.manifest_path),
            {"manifest": str(r.manifest_path), "export": r.export_name, "dataset": r.dataset, "run_id": r.run_id},
        )
    if focus_fresh:
        store.put(Namespace.CHECKPOINTS, focus_key, {"files": [str(p) for p in focus], "providers": summary.providers})
    return out


def _run_key(run_id: str, manifest_path: Path) -> str:
    return f"export-run:{run_id or manifest_path.parent.name}"


def detect_costs(costs: Any, config: VigilConfig, now: datetime) -> list[Finding]:
    from detectors.overspend import detect

    return detect(costs, config=config.detectors.overspend, now=now)


def previous_findings(store: StateStore, now: datetime, detector: str) -> list[Finding]:
    """The firing alerts of one detector family, back as findings (for stateful detectors).

    The labels beyond the identity base become the finding's labels, so each finding's
    fingerprint equals its alert's.
    """
    from alerts.alertstate import load_alerts
    from alerts.pipeline import RESOLVED_RETENTION
    from core.model import ResourceRef, Severity

    base = {"alertname", "detector", "severity", "resource_id", "subscription_id", "resource_group", "resource_type"}
    records, _ = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    out = []
    for rec in records.values():
        labels = rec.labels
        if not rec.firing or labels.get("detector") != detector or "resource_id" not in labels:
            continue
        finding = Finding(
            detector=detector,
            rule=labels["alertname"],
            status=Status.FIRING,
            severity=Severity(labels.get("severity", "medium")),
            resource=ResourceRef.from_id(labels["resource_id"], type=labels.get("resource_type", "")),
            observed_at=rec.starts_at,
            labels={k: v for k, v in labels.items() if k not in base},
            annotations=rec.annotations,
        )
        if finding.fingerprint == rec.fingerprint:
            out.append(finding)
    return out


def detect_idle(
    resources: Sequence[Mapping[str, Any]],
    metrics: Any,
    costs: Any,
    config: VigilConfig,
    now: datetime,
    *,
    previous: Sequence[Finding] | None = None,
) -> list[Finding]:
    from detectors.idle.detect import detect

    return detect(
        resources=resources,
        metrics=metrics,
        costs=costs,
        config=config.detectors.idle,
        now=now,
        previous=previous,
    )


def detect_drift(
    events: list[dict[str, Any]], tenant: TenantFolder, store: StateStore, config: VigilConfig, now: datetime
) -> tuple[list[Finding], dict[str, Any]]:
    """Events through the drift event path (``vigil.drift_path``) with the tenant as the resource reader."""
    from vigil import drift_path
    from vigil.handlers import drift_rules

    result = drift_path.handle_events(events, store=store, reader=tenant, rules=drift_rules(config), now=now)
    return list(result.findings), {"counts": result.counts(), "quarantined": len(result.quarantined)}


def process_alerts(
    findings: Sequence[Finding], config: VigilConfig, store: StateStore, now: datetime
) -> dict[str, Any]:
    """Findings -> alerts -> outbox; flushes groups whose group_wait ends within FLUSH_HORIZON."""
    from alerts.outbox import StoreOutbox
    from alerts.pipeline import process

    outbox = StoreOutbox(store)
    res = process(findings, config=config, store=store, outbox=outbox, now=now)
    out = res.to_dict()
    flush_at = res.next_flush_at
    if flush_at is not None and flush_at - now <= FLUSH_HORIZON:
        flushed = process([], config=config, store=store, outbox=outbox, now=flush_at)
        out["enqueued"] += len(flushed.enqueued)
        out["flushed_at"] = flush_at.isoformat()
    return out


def local_link_signing(out_dir: Path, env: Mapping[str, str] | None = None) -> tuple[bytes, str]:
    """Signing key and base URL for card links written by the CLI.

    ``VIGIL_SIGNING_KEY`` and ``VIGIL_PUBLIC_BASE_URL`` win; otherwise a random key is made
    once per output folder (``.signing-key``, readable by its owner only) and links point at
    a local Functions host (``http://localhost:7071``), so the demo's cards carry working
    Acknowledge / Silence 24h / Approve remediation buttons for `func start`.
    """
    import os
    import secrets

    environ = os.environ if env is None else env
    base = environ.get("VIGIL_PUBLIC_BASE_URL") or "http://localhost:7071"
    key = environ.get("VIGIL_SIGNING_KEY")
    if key:
        return key.encode(), base
    path = out_dir / ".signing-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip().encode(), base


def dispatch_outbox(config: VigilConfig, store: StateStore, outbox_dir: Path, at: datetime) -> dict[str, Any]:
    """Deliver the outbox with the directory sink: the exact payloads become files, nothing is sent."""
    from alerts.dispatch import drain
    from alerts.notify import DirectorySink
    from alerts.outbox import StoreOutbox

    key, base = local_link_signing(outbox_dir.parent)
    result = drain(
        StoreOutbox(store),
        config=config,
        store=store,
        now=lambda: at,
        sink=DirectorySink(outbox_dir),
        signing_key=key,
        action_base_url=base,
    )
    out = result.to_dict()
    out["sent"] = sum(len(r.sent) for r in result.results)
    out["failures"] = [f for r in result.results for f in r.to_dict()["failures"]]
    return out


def current_alerts(store: StateStore, now: datetime) -> list[dict[str, Any]]:
    """Every alert in the alert state (firing, and resolved within retention), as JSON dicts."""
    from alerts.alertstate import load_alerts
    from alerts.pipeline import RESOLVED_RETENTION

    records, _ = load_alerts(store, now=now, retention=RESOLVED_RETENTION)
    out = []
    for fp, rec in sorted(records.items(), key=lambda kv: (kv[1].labels.get("detector", ""), kv[0])):
        d = rec.alert().to_dict()
        d["fingerprint"] = fp
        d["evidence"] = rec.evidence
        out.append(d)
    return out


def _count(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for f in findings:
        fam = out.setdefault(f.detector, {Status.FIRING.value: 0, Status.RESOLVED.value: 0})
        fam[f.status.value] += 1
    return out


# ----------------------------------------------------------------------------- entry point


def run_tenant(
    tenant: str | Path | TenantFolder,
    *,
    config: VigilConfig,
    store: StateStore,
    out_dir: str | Path,
    now: datetime,
    progress: bool = True,
) -> RunSummary:
    """Run the whole pipeline over an offline tenant folder. See the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    t_start = time.perf_counter()
    source = tenant if isinstance(tenant, TenantFolder) else TenantFolder(tenant)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(tenant=str(source.root), out_dir=str(out), now=now.isoformat())
    steps = _Steps(progress, total=7)
    try:
        with _timed(summary, steps, "ingest cost exports"):
            summary.ingest = ingest_costs(source, out / DATA_DIR, store, progress=False)
            summary.warnings += summary.ingest.get("warnings", [])
        with _timed(summary, steps, "read resources, metrics, events"):
            try:
                resources = source.list()
                metrics = source.all_series()
                events = list(source.events())
            except SourceError as exc:
                raise PipelineError(f"reading the tenant folder: {exc}") from exc
            from ingest.cost import load_costs

            costs = load_costs(out / DATA_DIR, aggregate=True)  # empty when nothing was ingested
            summary.sources = {
                "resources": len(resources),
                "metric_resources": len(metrics),
                "events": len(events),
                "cost_rows": len(costs),
            }
        findings: list[Finding] = []
        with _timed(summary, steps, "detect: overspend"):
            if len(costs):
                findings += detect_costs(costs, config, now)
        with _timed(summary, steps, "detect: idle"):
            previous = previous_findings(store, now, "idle")
            findings += detect_idle(resources, metrics, costs, config, now, previous=previous)
        with _timed(summary, steps, "detect: drift (event path)"):
            drift_findings, summary.drift = detect_drift(events, source, store, config, now)
            findings += drift_findings
        summary.findings = _count(findings)
        with _timed(summary, steps, "alerts: route, group, dedup"):
            summary.alerts = process_alerts(findings, config, store, now)
            from vigil import drift_path

            drift_path.acknowledge(store, drift_findings)  # taken by the alerts pipeline: no longer pending
        with _timed(summary, steps, "dispatch to outbox/"):
            before = _files(out / OUTBOX_DIR)
            flushed = summary.alerts.get("flushed_at")
            at = datetime.fromisoformat(flushed) if flushed else now
            summary.notifications = dispatch_outbox(config, store, out / OUTBOX_DIR, at)
            summary.outbox_files = sorted(_files(out / OUTBOX_DIR) - before)
    finally:
        steps.close()
    alerts = current_alerts(store, now)
    _write_jsonl(out / ALERTS_FILE, alerts)
    by_family: dict[str, dict[str, int]] = {}
    for a in alerts:
        fam = by_family.setdefault(str(a["labels"].get("detector", "")), {"firing": 0, "resolved": 0})
        fam[str(a["status"])] = fam.get(str(a["status"]), 0) + 1
    summary.alerts["by_family"] = by_family
    from vigil.pipeline_digest import write_digest

    summary.digest = write_digest(out / DIGEST_FILE, costs, alerts, now=now)
    summary.duration_s = round(time.perf_counter() - t_start, 3)
    return summary


def _files(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.endswith(".tmp")}


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
