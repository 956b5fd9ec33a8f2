"""``ingest_paths``: the CLI path. Files, folders or manifest.json files into a local store.

Each manifest is one run (its runId). Loose data files given together form one run
whose id is derived from their names, sizes and modification times, so ingesting
the same files again yields the same run. Data is written aside under the run's
folder and swapped in per partition once every file of the run has been read.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.runtime import LocalBlobStore
from ingest.cost.engine import FileResult, PartitionStats, Quarantine, ingest_file
from ingest.cost.manifest import Manifest, ManifestError, is_data_file, parse_manifest
from ingest.cost.reader import FileFormatError, SourceFile
from ingest.cost.store import CostStore, Partition, scope_key

__all__ = ["IngestSummary", "Run", "collect_runs", "ingest_paths", "run_pointer"]


@dataclass
class Run:
    run_id: str
    submitted: str
    files: list[Path]
    manifest: Manifest | None = None


@dataclass
class IngestSummary:
    rows: int = 0
    rows_rejected: int = 0
    files: int = 0
    files_failed: int = 0
    runs: int = 0
    runs_stale: int = 0
    billed_cost: dict[str, Decimal] = field(default_factory=dict)
    effective_cost: dict[str, Decimal] = field(default_factory=dict)
    quarantine: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)  # file -> "dataset version"
    metrics: list[str] = field(default_factory=list)  # which of BilledCost/EffectiveCost the input carried
    days: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)  # ProviderName values ingested (clouds beside Azure)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add_file(self, fr: FileResult) -> None:
        if not fr.ok:
            self.files_failed += 1
            self.errors.append(fr.error or fr.name)
            return
        self.files += 1
        self.rows += fr.rows
        self.rows_rejected += fr.rejected
        if fr.detected is not None:
            self.datasets[fr.name] = f"{fr.detected.dataset} {fr.detected.version}"
            for m in fr.detected.metrics:
                if m not in self.metrics:
                    self.metrics.append(m)
            if fr.detected.assumed:
                self.warnings.append(
                    f"{fr.name}: actual and amortized exports share a header and no manifest says which; "
                    "assumed actual cost (BilledCost). Pass the manifest, or name the file/folder "
                    "'amortized', for amortized cost."
                )
        days = set(self.days)
        for st in fr.partitions.values():
            for mine, theirs in ((self.billed_cost, st.billed_cost), (self.effective_cost, st.effective_cost)):
                for k, v in theirs.items():
                    mine[k] = mine.get(k, Decimal(0)) + v
            days |= st.days
            self.providers = sorted(set(self.providers) | st.providers)
        self.days = sorted(days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "rows_rejected": self.rows_rejected,
            "files": self.files,
            "files_failed": self.files_failed,
            "runs": self.runs,
            "runs_stale": self.runs_stale,
            "billed_cost": dict(self.billed_cost),
            "effective_cost": dict(self.effective_cost),
            "metrics": list(self.metrics),
            "providers": list(self.providers),
            "quarantine": self.quarantine,
            "datasets": dict(self.datasets),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        """One line of JSON; money is written as exact decimal numbers."""
        return _dumps(self.to_dict())


def _dumps(obj: Any) -> str:
    if isinstance(obj, Decimal):
        s = format(obj.normalize(), "f") if obj == obj.to_integral() else format(obj, "f").rstrip("0")
        return s if s and s[-1] != "." else s + "0"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def _file_fingerprint(paths: Iterable[Path]) -> tuple[str, str]:
    h = hashlib.sha256()
    latest = 0.0
    for p in sorted(paths):
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        latest = max(latest, st.st_mtime)
    return "local-" + h.hexdigest()[:20], datetime.fromtimestamp(latest, UTC).isoformat()


def _manifest_files(m: Manifest, mpath: Path) -> list[Path]:
    folder = mpath.parent
    files: list[Path] = []
    for blob in m.blobs:
        base = blob.rsplit("/", 1)[-1]
        candidates = [folder / base, folder / blob]
        found = next((c for c in candidates if c.is_file()), None)
        files.append(found if found is not None else folder / base)
    if not m.blobs:
        files = sorted(p for p in folder.iterdir() if p.is_file() and is_data_file(p.name))
    return files


def collect_runs(paths: Iterable[Path]) -> tuple[list[Run], list[str]]:
    """Group inputs into runs: one per manifest, plus one for loose data files."""
    runs: list[Run] = []
    errors: list[str] = []
    loose: list[Path] = []
    manifests: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.rglob("manifest.json"))
            manifests.extend(found)
            covered = {m.parent for m in found}
            for f in sorted(p.rglob("*")):
                if f.is_file() and is_data_file(f.name) and f.parent not in covered:
                    loose.append(f)
        elif p.name.lower() == "manifest.json":
            manifests.append(p)
        elif p.is_file():
            loose.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    for mp in manifests:
        try:
            m = parse_manifest(mp.read_bytes(), str(mp))
        except (OSError, ManifestError) as exc:
            errors.append(str(exc))
            continue
        submitted = m.submitted or datetime.fromtimestamp(mp.stat().st_mtime, UTC).isoformat()
        runs.append(Run(m.run_id, submitted, _manifest_files(m, mp), m))
    if loose:
        run_id, submitted = _file_fingerprint(loose)
        runs.append(Run(run_id, submitted, loose))
    return runs, errors


def run_pointer(
    run_id: str, run_key: str, submitted: str, stats: PartitionStats, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {"run_id": run_id, "run_key": run_key, "submitted": submitted, **stats.to_json()}
    if extra:
        body.update(extra)
    return body


def ingest_paths(
    paths: list[Path],
    out_dir: Path,
    *,
    progress: bool = False,
    dataset: str | None = None,
) -> IngestSummary:
    """Ingest export files, folders or manifest.json files into the store at ``out_dir``.

    ``dataset`` (``actual`` or ``amortized``) overrides detection for EA/MCA files without a manifest.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = CostStore(LocalBlobStore(out_dir))
    summary = IngestSummary()
    runs, errors = collect_runs(paths)
    summary.errors.extend(errors)

    qdir = out_dir / "_quarantine"
    qpath = qdir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"
    qfh: list[Any] = []

    def sink(line: str) -> None:
        if not qfh:
            qdir.mkdir(parents=True, exist_ok=True)
            qfh.append(qpath.open("w", encoding="utf-8"))
        qfh[0].write(line + "\n")

    quarantine = Quarantine(sink)
    bar, advance = _progress(progress, sum(len(r.files) for r in runs))
    try:
        for run in runs:
            _ingest_run(run, store, quarantine, summary, dataset, advance)
    finally:
        if bar is not None:
            bar.stop()
        if qfh:
            qfh[0].close()
            summary.quarantine = str(qpath)
    return summary


def _ingest_run(  # noqa: PLR0917 - private helper
    run: Run,
    store: CostStore,
    quarantine: Quarantine,
    summary: IngestSummary,
    dataset: str | None,
    advance: Callable[[int, str | None], None],
) -> None:
    m = run.manifest
    run_key = f"{scope_key(run.run_id)}-{uuid.uuid4().hex[:8]}"
    merged: dict[Partition, PartitionStats] = {}
    manifest_type = m.dataset_type if m is not None else None
    if dataset and not manifest_type:
        manifest_type = {"actual": "ActualCost", "amortized": "AmortizedCost"}.get(dataset, dataset)
    any_ok = False
    for i, path in enumerate(run.files):
        advance(0, path.name)
        if not path.is_file():
            summary.add_file(FileResult(name=str(path), error=f"{path}: listed in the manifest but not found"))
            continue
        try:
            src = SourceFile(name=str(path), path=path)
        except OSError as exc:
            summary.add_file(FileResult(name=str(path), error=f"{path}: cannot open: {exc}"))
            continue
        except FileFormatError as exc:
            summary.add_file(FileResult(name=str(path), error=str(exc)))
            continue
        fr = ingest_file(
            src,
            store,
            run_id=run.run_id,
            run_key=run_key,
            file_tag=f"{i:05d}",
            quarantine=quarantine,
            manifest_type=manifest_type,
            data_version=m.data_version if m is not None else None,
            default_scope=m.scope() if m is not None else None,
            on_rows=lambda n: advance(n, None),
        )
        advance(-1, None)
        summary.add_file(fr)
        if fr.ok:
            any_ok = True
            for part, st in fr.partitions.items():
                merged.setdefault(part, PartitionStats()).merge(st)
    if not any_ok:
        return
    summary.runs += 1
    for part, st in merged.items():
        pointer = run_pointer(run.run_id, run_key, run.submitted, st, {"dataset": part[2]})
        if not store.swap(part, pointer):
            summary.runs_stale += 1
            summary.warnings.append(
                f"run {run.run_id} for {part.prefix} is older than the live run and was not applied"
            )
            for f in st.files:
                store.blobs.delete(f)


def _progress(enabled: bool, total_files: int) -> tuple[Any, Callable[[int, str | None], None]]:
    if not enabled:
        return None, lambda _n, _name: None
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("ingesting", total=total_files, rows=0)
    bar.start()
    rows = [0]

    def advance(n: int, name: str | None) -> None:
        if name is not None:
            bar.update(task, description=f"ingesting {Path(name).name}")
        if n == -1:
            bar.advance(task, 1)
        elif n:
            rows[0] += n
            bar.update(task, rows=rows[0])

    return bar, advance
