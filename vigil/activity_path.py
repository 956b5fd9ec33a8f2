"""The activity log in a run: the activity detector and attribution of drift and idle findings.

Kept apart from ``vigil.pipeline`` so its call sites there stay two lines: ``detect_activity`` after the
drift step and ``attribute`` before the alerts step. Records are Activity Log ``EventData`` objects,
from a tenant folder's ``activity/`` or from ``ingest.activity`` (REST or Log Analytics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.model import Finding
from core.state import StateStore
from vigil.config import VigilConfig

if TYPE_CHECKING:
    from ingest.activity.reader import ActivityBatch, SourceProgress

__all__ = [
    "attribute",
    "detect_activity",
    "forget_changes",
    "progress_line",
    "read_live",
    "remember_changes",
    "remembered_changes",
]


def detect_activity(records: Sequence[Mapping[str, Any]], config: VigilConfig, now: datetime) -> list[Finding]:
    from detectors.activity.detect import detect

    return detect(
        records=records,
        config=config.detectors.activity,
        now=now,
        drift_parameters=config.detectors.drift.parameters,
    )


def attribute(findings: Sequence[Finding], records: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Drift and idle findings whose event named no caller get "changed by/when" from the activity log.

    ``records`` may be lazy: it is read only when some finding needs a caller."""
    from detectors.activity.attribution import with_attribution

    return with_attribution(findings, records)


def progress_line(p: SourceProgress) -> str:
    """One source's progress, as the CLI shows it."""
    text = (
        f"activity {p.key}: {p.windows} window(s) {p.start or '?'} .. {p.end or '?'}, "
        f"{p.fetched} record(s): {p.new} new, {p.duplicates} already read, {p.quarantined} quarantined"
    )
    return text + "".join(f"\n  problem: {problem}" for problem in p.problems)


def read_live(
    config: VigilConfig,
    store: StateStore,
    now: datetime,
    *,
    credential: Any = None,
    arm_kwargs: Mapping[str, Any] | None = None,
    logs_kwargs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ActivityBatch:
    """Read the configured activity-log sources once (``sources.activity``), incrementally.

    ``credential`` defaults to ``DefaultAzureCredential`` (the user's Azure CLI login on a laptop, the
    managed identity in Azure). The caller detects on ``batch.records`` and calls ``batch.commit()``
    once the alerts are stored, so a crash in between reads the same records again.
    """
    from ingest.activity.sources import build_reader, build_sources

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    cfg = config.sources.activity
    sources = build_sources(cfg, credential, arm_kwargs=arm_kwargs, logs_kwargs=logs_kwargs)
    show = (lambda p: progress(progress_line(p))) if progress is not None else None
    return build_reader(cfg, store, sources, progress=show).read(now)


def remember_changes(store: StateStore, records: Iterable[Mapping[str, Any]]) -> int:
    """Keep the latest attributable change per resource (``Namespace.CHANGES``) from newly read activity-log
    records, so a later sweep or metrics run in Azure, which reads no activity log itself, can say who
    changed a resource. One entry per changed resource, replaced by a newer change; idempotent."""
    import hashlib

    from core.state.base import Namespace
    from detectors.activity.attribution import changes

    kept = 0
    for op in changes(records):
        rid = op.resource_id.lower().rstrip("/")
        key = hashlib.sha256(rid.encode()).hexdigest()[:40]  # resource ids hold characters table keys cannot
        when = op.time.isoformat()
        current = store.get(Namespace.CHANGES, key)
        if current is not None and str(current.value.get("time", "")) >= when:
            continue
        store.put(Namespace.CHANGES, key, {"resource_id": rid, "time": when, "records": [dict(r) for r in op.records]})
        kept += 1
    return kept


def forget_changes(store: StateStore, now: datetime) -> int:
    """Delete the kept changes older than the activity log's own retention
    (``ingest.activity.reader.RETENTION``): in event mode such a change can no longer be read to
    name a caller either, and the namespace stays bounded by the resources changed within it.
    The sweep timer runs it. Returns how many were deleted."""
    from core.state.base import ConcurrencyError, Namespace
    from ingest.activity.reader import RETENTION

    cutoff = now - RETENTION
    deleted = 0
    for rec in store.query(Namespace.CHANGES):
        try:
            when = datetime.fromisoformat(str(rec.value.get("time", "")))
        except ValueError:
            when = None  # unreadable: nothing can be attributed to it
        if when is not None and when.tzinfo is not None and when >= cutoff:
            continue
        try:
            deleted += store.delete(Namespace.CHANGES, rec.key, etag=rec.etag)
        except ConcurrencyError:  # replaced by a newer change since the scan: that one stays
            continue
    return deleted


def remembered_changes(store: StateStore) -> Iterator[Mapping[str, Any]]:
    """The records :func:`remember_changes` kept (for ``attribute``)."""
    from core.state.base import Namespace

    for rec in store.query(Namespace.CHANGES):
        yield from rec.value.get("records") or ()
