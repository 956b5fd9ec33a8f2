"""``vigil run`` and ``vigil demo``: the Function App's handlers over a tenant folder or a live tenant, and
the run report.

:func:`run_tenant` builds a :class:`vigil.runtime_local.LocalRuntime`
(``vigil.runtime_local.tenant_runtime``: SQLite state, the tenant
folder as the live source and its ``exports/`` as the export container, queues in the state
store that drain in process, and ``out_dir/outbox/`` as the channel sink) and drives the
handlers of :mod:`vigil.handlers` over it, as the Function App's triggers would (the queue
triggers are ``LocalRuntime.queue_triggers``, one pass over them per step):

1. **cost** - one BlobCreated event per export manifest -> ``handle_blob_created`` -> the
   ingest queue -> ``handle_ingest_part`` (normalized costs into ``out_dir/data/costs``) ->
   the detect queue -> ``handle_detect`` -> the detect-scope queue -> ``handle_detect_scopes``
   (overspend, per batch of subscriptions, then the tenant step that raises the alerts);
2. **drift (events)** - the tenant's Event Grid deliveries -> ``handle_resource_events``;
3. **the timers** - ``run_activity`` (the activity log), ``run_metrics`` (idle) and ``run_sweep``
   (the periodic drift evaluation of every resource);
4. **flush and deliver** - groups still in ``group_wait`` are flushed at their due time, at
   most ``FLUSH_HORIZON`` after ``now`` (the local clock moves there; waiting in real time
   would only delay the batch), then the alerts queue -> ``dispatch_alert``: the exact
   Teams/webhook JSON and .eml files land in ``out_dir/outbox/``; with ``alertmanager_configs``
   receivers, one run of the forwarding timer (``run_forward``) writes what it would post there too.

:func:`run_live` runs the same steps but the event step against the config's scopes in Azure, over a
:class:`vigil.runtime_local.AzureLocalRuntime` (a credential, and the export container in the user's
storage account or the Cost Management Query API). Each step reports what it reads, its counts and
done/failed (``RunSummary.source_status``); one that fails does not stop the others.

This module keeps only the steps, the progress display and the run report: ``out_dir/alerts.jsonl``
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.sources import SourceError
from core.state.base import StateStore
from vigil.config import VigilConfig
from vigil.runtime_local import LocalRuntime, QueueTrigger, tenant_runtime
from vigil.tenant import TenantFolder

if TYPE_CHECKING:
    from alerts.money import DisplayConfig

__all__ = ["FLUSH_HORIZON", "PipelineError", "RunSummary", "live_config_problem", "run_live", "run_tenant"]

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
    source_status: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0

    def failed_sources(self) -> list[dict[str, Any]]:
        """The sources and steps that failed (each names what it reads and the error)."""
        return [s for s in self.source_status if not s.get("ok")]

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
            "source_status": self.source_status,
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

    def print(self, line: str) -> None:
        """A finished step's line, above the bar."""
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description="done")
            self._progress.stop()


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


_CHANGES = ("firing", "resolved")


def _findings(host: _Host) -> dict[str, int]:
    """Findings per handler family (overspend, idle, drift: events and sweep, activity), from the handlers'
    own results."""
    from vigil import handlers

    events = host.results(handlers.handle_resource_events)
    sweeps = host.results(handlers.run_sweep)
    return {
        "overspend": _sum(host.results(handlers.handle_detect_scopes), "findings"),  # the tenant steps' merged
        "idle": _sum(host.results(handlers.run_metrics), "findings"),
        "drift": sum(_sum(events, "drift", status) + _sum(sweeps, "drift", "counts", status) for status in _CHANGES),
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


# ----------------------------------------------------------------------------- steps


@dataclass
class _Run:
    """One run's runtime, host, clock, progress and summary, shared by its steps."""

    rt: LocalRuntime
    host: _Host
    clock: _Clock
    steps: _Steps
    summary: RunSummary
    report: Callable[[str], None] | None

    def step(self, name: str, reads: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run one source or step; a failure is recorded (naming the step and what it reads) and the run
        goes on with the next step. Each step's line (what it reads, its counts, done/failed) goes to
        ``report`` and the progress display."""
        self.steps.start(name)
        t0 = time.perf_counter()
        status: dict[str, Any] = {"source": name, "reads": reads}
        result: dict[str, Any] | None = None
        try:
            result = work()
        except Exception as exc:  # one failing source must not abort the others
            # reported in the step's status line and the summary; logged (with the traceback) below warning so
            # the CLI prints it once
            log.info("%s failed: %s", name, exc, extra={"step": name, "reads": reads}, exc_info=True)
            status.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        else:
            problem = result.pop("_failed", None)
            status.update(ok=not problem, counts=result, **({"error": str(problem)} if problem else {}))
        finally:
            self.summary.steps_s[name] = round(time.perf_counter() - t0, 3)
            self.steps.done()
        self.summary.source_status.append(status)
        line = _status_line(status)
        self.steps.print(line)
        if self.report is not None:
            self.report(line)
        return result


def _status_line(status: Mapping[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in (status.get("counts") or {}).items() if isinstance(v, int | str))
    state = "done" if status["ok"] else f"FAILED: {status.get('error', '')}"
    return f"{status['source']} ({status['reads']}): {counts + '; ' if counts else ''}{state}"


def _cost_runs(run: _Run, container: str, manifests: Sequence[str], event_prefix: str) -> dict[str, Any]:
    """Export manifests -> BlobCreated -> ingest parts -> overspend (the Function App's cost path)."""
    from vigil import handlers

    for path in manifests:
        event = handlers.blob_created_event(container, path, event_id=f"{event_prefix}{path}")
        run.host.call(handlers.handle_blob_created, [event], run.rt)
    run.host.run_queues(deliver=False)  # ingest parts, then overspend for each completed run
    report = _ingest_report(run.host, len(manifests))
    run.summary.ingest.update(report)
    counts = {
        "export runs": report["export_runs"],
        "already ingested": report["runs_skipped"],
        "ingested": report["runs_ingested"],
        "rows": report["rows"],
    }
    if report["files_failed"]:
        counts["_failed"] = f"{report['files_failed']} part(s) failed: " + "; ".join(report["errors"])
    return counts


def _timer_steps(run: _Run, now: datetime, *, scope: str) -> None:
    """What the Function App's timers do: the activity log, idle (metrics), the drift sweep."""
    from vigil import handlers

    def idle() -> dict[str, Any]:
        out = run.host.call(handlers.run_metrics, run.rt, now)
        counts: dict[str, Any] = {
            k: out[k] for k in ("resources", "metric_resources", "metric_failures", "findings") if k in out
        }
        if "skipped" in out:
            counts["_failed"] = out["skipped"]
        return counts

    def sweep() -> dict[str, Any]:
        out = run.host.call(handlers.run_sweep, run.rt, now)
        if "skipped" in out:
            return {"_failed": out["skipped"]}
        drift = out.get("drift") or {}
        counts = dict(drift.get("counts") or {})
        run.summary.drift["sweep"] = counts
        return {k: counts[k] for k in ("processed", "firing", "resolved") if k in counts}

    def activity() -> dict[str, Any]:
        out = run.host.call(handlers.run_activity, run.rt, now)
        counts: dict[str, Any] = {k: out[k] for k in ("records", "findings") if k in out}
        if "skipped" in out:
            counts["skipped"] = out["skipped"]
        if out.get("problems"):
            counts["_failed"] = "; ".join(out["problems"])
        return counts

    # the activity log first: in Azure, the sweep and idle attribute their findings to the changes it kept
    run.step("activity log", f"{scope}: control-plane operations", activity)
    run.step("idle: metrics timer", f"{scope}: resources and Azure Monitor metrics", idle)
    run.step("drift: sweep timer", f"{scope}: every resource the drift rules and policy assignments cover", sweep)


def _deliver(run: _Run, now: datetime, outbox: Path, *, dry_run: bool) -> None:
    """Flush groups due within FLUSH_HORIZON, then the alerts queue (to the outbox, or the channels)."""

    from vigil import handlers

    def deliver() -> dict[str, Any]:
        # Groups in group_wait are flushed at their due time if it is within FLUSH_HORIZON:
        # the local clock moves to the last such time, and delivery happens then.
        run.clock.now = _flush_time(run.rt, now)
        before = _files(outbox)
        run.host.run_queues(deliver=True)  # (a failed part again,) group flushes, then the alerts queue
        if _forwards(run.rt.config):  # the forwarding timer's run, where alertmanager_configs receivers exist
            run.host.call(handlers.run_forward, run.rt, run.clock.now)
        run.summary.outbox_files = sorted(_files(outbox) - before)
        delivered = run.host.results(handlers.dispatch_alert)
        failed = len(run.host.errors(handlers.dispatch_alert)) + sum(1 for r in delivered if not r.get("ok"))
        out: dict[str, Any] = {"notifications": sum(len(r.get("sent", ())) for r in delivered)}
        if failed:
            out["_failed"] = f"{failed} alert group(s) not delivered"
        return out

    where = f"written to {outbox}" if dry_run else "sent through the configured receivers"
    run.step("deliver", f"alert groups {where}", deliver)


# ----------------------------------------------------------------------------- entry points


def _start(
    rt: LocalRuntime,
    clock: _Clock,
    summary: RunSummary,
    *,
    steps: int,
    progress: bool,
    report: Callable[[str], None] | None,
) -> _Run:
    return _Run(rt=rt, host=_Host(rt), clock=clock, steps=_Steps(progress, steps), summary=summary, report=report)


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
    report: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run the Function App's handlers once over an offline tenant folder. See the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
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
    run = _start(rt, clock, summary, steps=7, progress=progress, report=report)
    try:
        run.steps.start("read the tenant folder")
        try:
            runs = source.runs()
            resources = source.list()
            metrics = source.all_series()
            events = list(source.events())
            activity = list(source.entries())
        except SourceError as exc:
            raise PipelineError(f"reading the tenant folder: {exc}") from exc
        run.steps.done()

        def cost() -> dict[str, Any]:
            costs_dir = rt.local_folder(rt.setting("COSTS_CONTAINER") or "costs")  # where the handlers write costs
            summary.ingest["other_clouds"] = ingest_other_clouds(source, costs_dir, store, progress=False)
            manifests = [r.manifest_path.relative_to(source.exports_root).as_posix() for r in runs]
            return _cost_runs(run, rt.setting("EXPORTS_CONTAINER") or "cost-exports", manifests, "tenant:")

        def drift_events() -> dict[str, Any]:
            result = run.host.call(handlers.handle_resource_events, events, rt)
            summary.drift.update(counts=result.get("drift", {}), quarantined=result.get("quarantined", 0))
            return {"events": len(events), **{k: v for k, v in result.get("drift", {}).items() if k == "firing"}}

        run.step("cost: exports, overspend", f"{source.exports_root}: {len(runs)} export run(s)", cost)
        run.step("drift: resource events", f"{source.root / 'events'}", drift_events)
        _timer_steps(run, now, scope=str(source.root))
        _deliver(run, now, out / OUTBOX_DIR, dry_run=True)
    finally:
        run.steps.close()
    summary.sources = {
        "resources": len(resources),
        "metric_resources": len(metrics),
        "events": len(events),
        "activity_records": len(activity),
    }
    return _finish(run, store, out, now, t_start, display=config.display)


def live_config_problem(config: VigilConfig) -> str | None:
    """Why ``config`` cannot drive a live run (it names no scopes), or None."""
    if not config.scopes.subscriptions and not config.scopes.management_groups:
        return "live run: the config names no scopes (scopes.subscriptions or scopes.management_groups)"
    return None


def run_live(
    *,
    config: VigilConfig,
    store: StateStore,
    out_dir: str | Path,
    now: datetime,
    credential: Any = None,
    azure_client_kwargs: Mapping[str, Any] | None = None,
    metrics_options: Mapping[str, Any] | None = None,
    blob_client_kwargs: Mapping[str, Any] | None = None,
    logs_client_kwargs: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> RunSummary:
    """``vigil run`` without ``--tenant``: the Function App's handlers once against the config's
    ``scopes``, reading Azure with ``credential`` (default ``DefaultAzureCredential``).

    Costs come from the export container (``sources.cost_exports.account_url``), else from the Cost
    Management Query API for each subscription; resources, metrics, the drift sweep and the activity log
    through :class:`vigil.handlers.sources.LiveSources`. State, queues and normalized costs stay in
    ``out_dir``; notifications are sent through the configured receivers, or with ``dry_run`` only written
    to ``out_dir/outbox/``. A source that fails is reported (``summary.source_status``) and the others
    still run. ``azure_client_kwargs``, ``metrics_options``, ``blob_client_kwargs`` and ``logs_client_kwargs``
    are extra client arguments (endpoints and CA bundle in tests; empty against Azure).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    scopes = config.scopes
    problem = live_config_problem(config)
    if problem:
        raise PipelineError(problem)
    from vigil.runtime_local import AzureLocalRuntime, local_link_signing

    t_start = time.perf_counter()
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scope = ", ".join(
        [f"/subscriptions/{s}" for s in scopes.subscriptions]
        + [f"/providers/Microsoft.Management/managementGroups/{m}" for m in scopes.management_groups]
    )
    summary = RunSummary(tenant=f"azure: {scope}", out_dir=str(out), now=now.isoformat())
    clock = _Clock(now)
    exports = config.sources.cost_exports
    if not exports.account_url and not config.sources.cost_query_api:  # no export container: the Query API
        config = config.model_copy(update={"sources": config.sources.model_copy(update={"cost_query_api": True})})
    containers: dict[str, Any] = {}
    if exports.account_url:
        from azure.storage.blob import ContainerClient

        from vigil.runtime_azure import AzureBlobStore

        client = ContainerClient(
            exports.account_url, exports.container, credential=credential, **(blob_client_kwargs or {})
        )
        containers[exports.container] = AzureBlobStore(client)
    rt = AzureLocalRuntime(
        config,
        store,
        out / DATA_DIR,
        settings={"EXPORTS_CONTAINER": exports.container, **local_link_signing(out)},
        clock=clock,
        sink=out / OUTBOX_DIR if dry_run else None,
        containers=containers,
        credential=credential,
        azure_client_kwargs=azure_client_kwargs,
        metrics_options=metrics_options,
        logs_client_kwargs=logs_client_kwargs,
    )
    run = _start(rt, clock, summary, steps=5, progress=progress, report=report)
    try:
        if exports.account_url:
            where = f"{exports.account_url.rstrip('/')}/{exports.container}/{exports.root_folder}".rstrip("/")

            def cost() -> dict[str, Any]:
                listed = rt.blobs(exports.container).list(exports.root_folder)
                manifests = [p for p in listed if p.rsplit("/", 1)[-1] == "manifest.json"]
                return _cost_runs(run, exports.container, manifests, f"live:{exports.container}/")

            run.step("cost: export container, overspend", where, cost)
        else:
            from vigil import handlers

            def query() -> dict[str, Any]:
                out_q = run.host.call(handlers.run_cost_query, rt, now)
                run.host.run_queues(deliver=False)  # overspend for the days the queries covered
                counts: dict[str, Any] = {k: out_q[k] for k in ("scopes", "pages", "rows") if k in out_q}
                if out_q.get("failed"):
                    counts["_failed"] = "; ".join(out_q["failed"])
                return counts

            run.step("cost: Cost Management Query API, overspend", scope, query)
        _timer_steps(run, now, scope=scope)
        _deliver(run, now, out / OUTBOX_DIR, dry_run=dry_run)
    finally:
        run.steps.close()
    return _finish(run, store, out, now, t_start, display=config.display)


def _finish(
    run: _Run, store: StateStore, out: Path, now: datetime, t_start: float, *, display: DisplayConfig
) -> RunSummary:
    """The run report: counts, alerts.jsonl, digest.html (with vigil.yaml's display currency)."""
    from alerts.pipeline import current_alerts
    from ingest.cost import load_costs
    from vigil import handlers

    summary, host, rt = run.summary, run.host, run.rt
    costs = load_costs(  # empty if none ingested
        rt.blobs(rt.setting("COSTS_CONTAINER") or "costs"), aggregate=True, categorical=True
    )
    summary.sources["cost_rows"] = len(costs)
    for r in host.results(handlers.run_metrics):
        summary.sources.setdefault("resources", r.get("resources", 0))
        summary.sources.setdefault("metric_resources", r.get("metric_resources", 0))
    for r in host.results(handlers.run_activity):
        summary.sources.setdefault("activity_records", r.get("records", 0))
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
    # one message per error: a failed step is reported once, by its FAILED line (source_status), not again
    # as the handler error it raised
    failed = {str(s.get("error", "")) for s in summary.failed_sources()}
    summary.warnings += [e for e in host.all_errors() if e not in failed]
    alerts = current_alerts(store, now)
    _write_jsonl(out / ALERTS_FILE, alerts)
    by_family: dict[str, dict[str, int]] = {}
    for a in alerts:
        fam = by_family.setdefault(str(a["labels"].get("detector", "")), {"firing": 0, "resolved": 0})
        fam[str(a["status"])] = fam.get(str(a["status"]), 0) + 1
    summary.alerts["by_family"] = by_family
    from vigil.pipeline_digest import write_digest

    summary.digest = write_digest(out / DIGEST_FILE, costs, alerts, now=now, display=display)
    summary.duration_s = round(time.perf_counter() - t_start, 3)
    return summary
