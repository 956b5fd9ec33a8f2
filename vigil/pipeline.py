"""``vigil run`` and ``vigil demo``: the Function App's handlers over a tenant folder, and the run report.

:func:`run_tenant` builds a :class:`vigil.runtime_local.LocalRuntime`
(``vigil.runtime_local.tenant_runtime``: SQLite state, the tenant
folder as the live source and its ``exports/`` as the export container, queues in the state
store that drain in process, and ``out_dir/outbox/`` as the channel sink) and drives the
handlers of :mod:`vigil.handlers` over it, as the Function App's triggers would (the queue
triggers are ``LocalRuntime.queue_triggers``, one pass over them per step):

1. **cost** - one BlobCreated event per export manifest -> ``handle_blob_created`` -> the
   ingest queue -> ``handle_ingest_part`` (normalized costs into ``out_dir/data/costs``) ->
   the detect queue -> ``handle_detect`` (overspend);
2. **idle** - ``run_metrics`` (the metrics timer);
3. **drift** - the tenant's Event Grid deliveries -> ``handle_resource_events``;
4. **flush and deliver** - groups still in ``group_wait`` are flushed at their due time, at
   most ``FLUSH_HORIZON`` after ``now`` (the local clock moves there; waiting in real time
   would only delay the batch), then the alerts queue -> ``dispatch_alert``: the exact
   Teams/webhook JSON and .eml files land in ``out_dir/outbox/``; with ``alertmanager_configs``
   receivers, one run of the forwarding timer (``run_forward``) writes what it would post there too.

This module keeps only the progress display and the run report: ``out_dir/alerts.jsonl``
(one alert per line), ``out_dir/digest.html`` (:mod:`vigil.pipeline_digest`) and the
:class:`RunSummary`. State lives in ``out_dir/state.db`` (processed event ids, export-run
records, alert state, the notification log and the queues), so running twice sends no
duplicate notification, and a cost part that failed stays queued for the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.sources import SourceError
from core.state.base import StateStore
from vigil.config import VigilConfig
from vigil.runtime_local import LocalRuntime, QueueTrigger, tenant_runtime
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
    findings: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    handlers: dict[str, int] = field(default_factory=dict)
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
            "handlers": self.handlers,
            "outbox_files": self.outbox_files,
            "digest": self.digest,
            "steps_s": self.steps_s,
            "warnings": self.warnings,
            "duration_s": self.duration_s,
        }


# ----------------------------------------------------------------------------- progress


class _Steps:
    """One rich progress bar on stderr over the run's steps (or nothing)."""

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


# ----------------------------------------------------------------------------- the local host


class _Clock:
    """The local runtime's clock: the run's ``now``, moved forward for the group flush."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ingest_other_clouds(tenant: TenantFolder, data_dir: Path, store: StateStore, *, progress: bool) -> dict[str, Any]:
    """Other clouds' FOCUS exports under the tenant folder's ``focus/`` (AWS, Google Cloud) into the cost
    store, once per set of files (keyed by their names and sizes). Azure exports go through the Function
    App's handlers (BlobCreated -> ingest parts -> detect); these files have no manifest and no Function
    trigger yet, so they are read here, before the Azure runs, whose overspend detection then sees them."""
    from core.state.base import Namespace
    from ingest.cost import ingest_paths

    focus = tenant.focus_files()
    listing = "\n".join(f"{p.relative_to(tenant.root)}|{p.stat().st_size}" for p in focus)
    focus_key = "focus-files:" + hashlib.sha256(listing.encode()).hexdigest()[:20]
    if not focus or store.get(Namespace.CHECKPOINTS, focus_key) is not None:
        return {"files": len(focus), "ingested": 0}
    summary = ingest_paths(list(focus), data_dir, progress=progress)
    out: dict[str, Any] = {
        "files": summary.files,
        "ingested": summary.runs,
        "rows": summary.rows,
        "rows_rejected": summary.rows_rejected,
        "files_failed": summary.files_failed,
        "providers": summary.providers,
        "errors": list(summary.errors),
    }
    if not summary.files_failed:  # a failed file leaves the set un-checkpointed: the next run retries it
        store.put(Namespace.CHECKPOINTS, focus_key, {"files": [str(p) for p in focus], "providers": summary.providers})
    return out


Handler = Callable[..., dict[str, Any]]


class _Host:
    """Calls the handlers as the Function host would, keeping each handler's results and failures."""

    def __init__(self, rt: LocalRuntime) -> None:
        self.rt = rt
        self.calls: dict[str, int] = {}
        self._errors: dict[Handler, list[str]] = {}
        self._results: dict[Handler, list[dict[str, Any]]] = {}

    def call(self, handler: Handler, *args: Any) -> dict[str, Any]:
        name = getattr(handler, "__name__", repr(handler))
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            result = handler(*args)
        except Exception as exc:
            self._errors.setdefault(handler, []).append(f"{type(exc).__name__}: {exc}")
            raise
        self._results.setdefault(handler, []).append(result)
        return result

    def results(self, handler: Handler) -> list[dict[str, Any]]:
        return self._results.get(handler, [])

    def errors(self, handler: Handler) -> list[str]:
        return self._errors.get(handler, [])

    def all_results(self) -> list[dict[str, Any]]:
        return [r for rs in self._results.values() for r in rs]

    def all_errors(self) -> list[str]:
        return [e for es in self._errors.values() for e in es]

    def run_queues(self, *, deliver: bool) -> None:
        """One pass over the queue triggers (``LocalRuntime.queue_triggers``, in fan-out order):
        each visible message once; a message that fails stays queued (5 failures: poisoned)."""

        def bind(handler: QueueTrigger) -> Callable[[dict[str, Any]], dict[str, Any]]:
            return lambda message: self.call(handler, message, self.rt)

        for queue, handler in self.rt.queue_triggers(deliver=deliver).items():
            self.rt.drain(queue, bind(handler))


def _flush_time(rt: LocalRuntime, now: datetime) -> datetime:
    """When the scheduled group flushes due within FLUSH_HORIZON of ``now`` are all visible."""
    from core.timeutil import parse_utc

    queue = rt.setting("DETECT_QUEUE") or "vigil-detect"
    due = [parse_utc(str(m["now"])) for m in rt.pending(queue) if m.get("type") == "flush" and m.get("now")]
    due = [t for t in due if t - now <= FLUSH_HORIZON]
    return max([now, *(t + timedelta(seconds=1) for t in due)])  # a flush is visible 1 s after it is due


# ----------------------------------------------------------------------------- report


def _sum(results: Sequence[Mapping[str, Any]], *path: str) -> int:
    total = 0
    for r in results:
        value: Any = r
        for p in path:
            value = value.get(p, {}) if isinstance(value, Mapping) else {}
        total += value if isinstance(value, int) else 0
    return total


def _ingest_report(host: _Host, runs: int) -> dict[str, Any]:
    """The cost step's counts; a part that failed is still queued (``files_failed``) for the next run."""
    from vigil import handlers

    planned = host.results(handlers.handle_blob_created)
    parts = host.results(handlers.handle_ingest_part)
    complete = [p for p in parts if p.get("run_complete")]
    errors = list(dict.fromkeys(host.errors(handlers.handle_ingest_part)))  # one line per problem
    failing = len(host.rt.pending(host.rt.setting("INGEST_QUEUE") or "vigil-ingest"))
    return {
        "export_runs": runs,
        "runs_skipped": _sum(planned, "skipped"),
        "parts_enqueued": _sum(planned, "parts_enqueued"),
        "runs_ingested": len(complete),
        "rows": _sum(complete, "rows"),
        "rows_rejected": _sum(complete, "rows_rejected"),
        "files": len(parts) + failing,
        "files_failed": failing,
        "errors": errors,
    }


def _findings(host: _Host) -> dict[str, int]:
    """Findings per handler family (overspend, idle, drift, activity), from the handlers' own results."""
    from vigil import handlers

    events = host.results(handlers.handle_resource_events)
    return {
        "overspend": _sum(host.results(handlers.handle_detect), "findings"),
        "idle": _sum(host.results(handlers.run_metrics), "findings"),
        "drift": _sum(events, "drift", "firing") + _sum(events, "drift", "resolved"),
        "activity": _sum(host.results(handlers.run_activity), "findings"),
    }


def _alerts_report(host: _Host) -> dict[str, Any]:
    """The alert pipeline's counts over every handler that raised alerts."""
    results = [r["alerts"] for r in host.all_results() if isinstance(r.get("alerts"), Mapping)]
    keys = sorted({k for r in results for k, v in r.items() if isinstance(v, int)})
    return {k: _sum(results, k) for k in keys}


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def _files(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.endswith(".tmp")}


# ----------------------------------------------------------------------------- entry point


def _forwards(config: VigilConfig) -> bool:
    from alerts.compiled import compiled

    return any(i.kind == "alertmanager" for integs in compiled(config).integrations.values() for i in integs)


def run_tenant(
    tenant: str | Path | TenantFolder,
    *,
    config: VigilConfig,
    store: StateStore,
    out_dir: str | Path,
    now: datetime,
    progress: bool = True,
) -> RunSummary:
    """Run the Function App's handlers once over an offline tenant folder. See the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    from alerts.pipeline import current_alerts
    from vigil import handlers

    t_start = time.perf_counter()
    source = tenant if isinstance(tenant, TenantFolder) else TenantFolder(tenant)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(tenant=str(source.root), out_dir=str(out), now=now.isoformat())
    clock = _Clock(now)
    rt = tenant_runtime(
        source,
        config=config,
        store=store,
        out_dir=out,
        data_dir=out / DATA_DIR,
        outbox_dir=out / OUTBOX_DIR,
        clock=clock,
    )
    host = _Host(rt)
    steps = _Steps(progress, total=6)
    try:
        with _timed(summary, steps, "read the tenant folder"):
            try:
                runs = source.runs()
                resources = source.list()
                metrics = source.all_series()
                events = list(source.events())
                activity = list(source.entries())
            except SourceError as exc:
                raise PipelineError(f"reading the tenant folder: {exc}") from exc
        with _timed(summary, steps, "cost: ingest, overspend"):
            costs_dir = rt.blobs(rt.setting("COSTS_CONTAINER") or "costs").root  # where the handlers write costs
            other_clouds = ingest_other_clouds(source, costs_dir, store, progress=False)
            container = rt.setting("EXPORTS_CONTAINER") or "cost-exports"
            for run in runs:
                path = run.manifest_path.relative_to(source.exports_root).as_posix()
                event = handlers.blob_created_event(container, path, event_id=f"tenant:{path}")
                host.call(handlers.handle_blob_created, [event], rt)
            host.run_queues(deliver=False)  # ingest parts, then overspend for each completed run
        with _timed(summary, steps, "idle: the metrics timer"):
            host.call(handlers.run_metrics, rt, now)
        with _timed(summary, steps, "drift: the event path"):
            result = host.call(handlers.handle_resource_events, events, rt)
            summary.drift = {"counts": result.get("drift", {}), "quarantined": result.get("quarantined", 0)}
        with _timed(summary, steps, "activity log: control-plane detections"):
            host.call(handlers.run_activity, rt, now)  # the activity-log timer over the tenant folder
        with _timed(summary, steps, "flush groups, deliver"):
            # Groups in group_wait are flushed at their due time if it is within FLUSH_HORIZON:
            # the local clock moves to the last such time, and delivery happens then.
            clock.now = _flush_time(rt, now)
            before = _files(out / OUTBOX_DIR)
            host.run_queues(deliver=True)  # (a failed part again,) group flushes, then the alerts queue
            if _forwards(config):  # the forwarding timer's run, where alertmanager_configs receivers exist
                host.call(handlers.run_forward, rt, clock.now)
            summary.outbox_files = sorted(_files(out / OUTBOX_DIR) - before)
    finally:
        steps.close()
    from ingest.cost import load_costs

    costs = load_costs(rt.blobs(rt.setting("COSTS_CONTAINER") or "costs"), aggregate=True)  # empty if none ingested
    summary.sources = {
        "resources": len(resources),
        "metric_resources": len(metrics),
        "events": len(events),
        "activity_records": len(activity),
        "cost_rows": len(costs),
    }
    summary.ingest = _ingest_report(host, len(runs))
    summary.ingest["other_clouds"] = other_clouds
    summary.findings = _findings(host)
    summary.alerts = _alerts_report(host)
    delivered = host.results(handlers.dispatch_alert)
    undelivered = host.errors(handlers.dispatch_alert)
    summary.notifications = {
        "delivered": len(delivered),
        "sent": sum(len(r.get("sent", ())) for r in delivered),
        "failed": len(undelivered) + sum(1 for r in delivered if not r.get("ok")),
        "failures": [f for r in delivered for f in r.get("failures", ())] + undelivered,
    }
    summary.handlers = dict(sorted(host.calls.items()))
    summary.warnings += host.all_errors()
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
