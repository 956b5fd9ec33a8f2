"""Incremental, exactly-once reading of activity-log sources.

Each source (:class:`WindowSource`: the REST API for a subscription, or a Log Analytics workspace) keeps
a checkpoint in the state store (``checkpoints/activity/<source key>``: the end of the last window read
completely). A read queries ``[checkpoint - overlap, now]`` in windows of at most ``max_window``: the
activity log delivers records up to about 15 minutes after their ``eventTimestamp``, so a record that
was not there yet at the last read is inside the overlap now.

Records are deduplicated by ``eventDataId`` (across windows, sources and restarts) against the ids
committed before (``events/activity/<eventDataId>``) and within the read itself. Nothing is marked
read until :meth:`ActivityBatch.commit`, which the caller runs after it has handled the records: a
crash before the commit delivers the same records again (handlers are idempotent), a commit marks
them read for good. Ids are pruned once no window can reach their ``eventTimestamp`` again.

A record without an ``eventDataId`` or a readable ``eventTimestamp`` is quarantined (kept in
``batch.quarantined`` with the source, window and field), never delivered and never silently dropped.
A partial answer (Log Analytics ``PartialError``) or a failing source delivers what came but leaves
that source's checkpoint where it was, so the window is read again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.state import ConcurrencyError, Namespace, StateStore
from core.state.typed import get_checkpoint, prune
from core.timeutil import parse_utc

__all__ = [
    "ActivityBatch",
    "ActivityReader",
    "Fetched",
    "Quarantined",
    "SourceProgress",
    "WindowSource",
    "event_time",
    "iso",
]

log = logging.getLogger(__name__)

SEEN_PREFIX = "activity/"
CHECKPOINT_PREFIX = "activity/"
# Ids are kept this much longer than the oldest window start could need them (clock skew between runs).
PRUNE_MARGIN = timedelta(hours=1)
# The activity log keeps 90 days (https://learn.microsoft.com/azure/azure-monitor/essentials/activity-log);
# a window reaching further back is refused by the REST API, so reads start no earlier than this.
RETENTION = timedelta(days=89)


def iso(ts: datetime) -> str:
    """``2026-12-01T10:00:00Z`` (whole seconds are kept as given; UTC)."""
    return ts.isoformat().replace("+00:00", "Z")


def event_time(record: Mapping[str, Any]) -> datetime | None:
    value = record.get("eventTimestamp")
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one window of one source gave. ``complete`` False: a partial answer (kept, not checkpointed)."""

    records: Sequence[Mapping[str, Any]]
    complete: bool = True
    problem: str = ""


class WindowSource(Protocol):
    """An activity-log source that can list the records whose ``eventTimestamp`` is in a window."""

    @property
    def key(self) -> str: ...

    def fetch(self, start: datetime, end: datetime) -> Fetched: ...


@dataclass(frozen=True, slots=True)
class Quarantined:
    source: str
    window: str
    index: int
    field: str
    reason: str
    record: Mapping[str, Any]


@dataclass(slots=True)
class SourceProgress:
    """Per-source figures of one read (shown by the CLI's progress display)."""

    key: str
    windows: int = 0
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    start: str = ""
    end: str = ""
    checkpoint: str = ""  # where the checkpoint moves to on commit ('' if it stays)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    name: str
    end: str
    etag: str | None


@dataclass
class ActivityBatch:
    """New records of one read, oldest first, and what :meth:`commit` will write."""

    records: list[dict[str, Any]]
    quarantined: list[Quarantined]
    progress: dict[str, SourceProgress]
    _store: StateStore
    _pending: list[_Pending]
    _origins: dict[str, str]
    _overlap: timedelta
    committed: bool = False

    def commit(self) -> None:
        """Mark every delivered record read and move the checkpoints (idempotent)."""
        if self.committed:
            return
        for rec in self.records:
            rid = str(rec["eventDataId"])
            ts = event_time(rec)
            self._store.add(
                Namespace.EVENTS,
                SEEN_PREFIX + rid,
                {"ts": iso(ts) if ts else "", "source": self._origins.get(rid, "")},
            )
        ends: list[datetime] = []
        for p in self._pending:
            value = {"end": p.end}
            if p.etag is None:
                if not self._store.add(Namespace.CHECKPOINTS, p.name, value):
                    raise ConcurrencyError(f"{p.name}: another run wrote the first checkpoint")
            else:
                self._store.put(Namespace.CHECKPOINTS, p.name, value, etag=p.etag)
            ends.append(parse_utc(p.end))
        self.committed = True
        # The oldest checkpoint of every activity source bounds what a window can still reach.
        cps = self._store.query(Namespace.CHECKPOINTS, CHECKPOINT_PREFIX)
        oldest = [parse_utc(str(r.value.get("end"))) for r in cps]
        if oldest:
            before = min(oldest) - self._overlap - PRUNE_MARGIN
            pruned = prune(self._store, Namespace.EVENTS, field="ts", before=before, prefix=SEEN_PREFIX)
            if pruned:
                log.debug("activity: pruned %d read ids", pruned, extra={"before": iso(before)})


class ActivityReader:
    def __init__(
        self,
        store: StateStore,
        sources: Iterable[WindowSource],
        *,
        overlap: timedelta = timedelta(minutes=20),
        initial_lookback: timedelta = timedelta(hours=24),
        max_window: timedelta = timedelta(hours=6),
        retention: timedelta = RETENTION,
        progress: Callable[[SourceProgress], None] | None = None,
    ) -> None:
        if max_window <= timedelta(0):
            raise ValueError("max_window must be positive")
        self.store = store
        self.sources = list(sources)
        keys = [s.key for s in self.sources]
        if len(set(keys)) != len(keys):
            raise ValueError(f"activity sources with the same key: {sorted(k for k in keys if keys.count(k) > 1)}")
        self.overlap = overlap
        self.initial_lookback = initial_lookback
        self.max_window = max_window
        self.retention = retention
        self._progress = progress

    def read(self, now: datetime) -> ActivityBatch:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        seen = {r.key[len(SEEN_PREFIX) :] for r in self.store.query(Namespace.EVENTS, SEEN_PREFIX)}
        out: dict[str, dict[str, Any]] = {}
        origins: dict[str, str] = {}
        quarantined: list[Quarantined] = []
        pending: list[_Pending] = []
        progress: dict[str, SourceProgress] = {}
        for source in self.sources:
            prog = progress[source.key] = SourceProgress(source.key)
            name = CHECKPOINT_PREFIX + source.key
            cp = get_checkpoint(self.store, name)
            last_end = parse_utc(str(cp.value["end"])) if cp is not None and cp.value.get("end") else None
            start = last_end - self.overlap if last_end is not None else now - self.initial_lookback
            if start < now - self.retention:
                lost = f"{iso(start)}/{iso(now - self.retention)}"
                prog.problems.append(f"{lost}: beyond the activity log's retention, not read")
                log.warning(
                    "activity source %s: %s is beyond the retention and is not read",
                    source.key,
                    lost,
                    extra={"source": source.key},
                )
                start = now - self.retention
            prog.start = iso(start)
            reached: datetime | None = None
            w_start = start
            while w_start < now:
                w_end = min(now, w_start + self.max_window)
                window = f"{iso(w_start)}/{iso(w_end)}"
                try:
                    fetched = source.fetch(w_start, w_end)
                except Exception as exc:  # one failing source must not stop the others; it is read again next time
                    prog.problems.append(f"{window}: {type(exc).__name__}: {exc}")
                    log.warning(
                        "activity source %s failed for %s: %s", source.key, window, exc, extra={"source": source.key}
                    )
                    break
                prog.windows += 1
                for i, rec in enumerate(fetched.records):
                    prog.fetched += 1
                    self._take(rec, i, source.key, window, seen, out, origins, quarantined, prog)
                if not fetched.complete:
                    prog.problems.append(f"{window}: partial answer: {fetched.problem}")
                    log.warning(
                        "activity source %s gave a partial answer for %s: %s",
                        source.key,
                        window,
                        fetched.problem,
                        extra={"source": source.key},
                    )
                    break
                reached = w_end
                w_start = w_end
            prog.end = iso(reached) if reached else ""
            if reached is not None and (last_end is None or reached > last_end):
                prog.checkpoint = iso(reached)
                pending.append(_Pending(name, iso(reached), cp.etag if cp is not None else None))
            if self._progress is not None:
                self._progress(prog)
        records = sorted(out.values(), key=_order)
        return ActivityBatch(records, quarantined, progress, self.store, pending, origins, self.overlap)

    @staticmethod
    def _take(  # noqa: PLR0917 - one record into the read's accumulators
        rec: Mapping[str, Any],
        index: int,
        source: str,
        window: str,
        seen: set[str],
        out: dict[str, dict[str, Any]],
        origins: dict[str, str],
        quarantined: list[Quarantined],
        prog: SourceProgress,
    ) -> None:
        rid = rec.get("eventDataId")
        problem: tuple[str, str] | None = None
        if not isinstance(rid, str) or not rid.strip():
            problem = ("eventDataId", "missing or not a string")
        elif event_time(rec) is None:
            problem = ("eventTimestamp", f"missing or not ISO 8601: {rec.get('eventTimestamp')!r}")
        if problem is not None:
            prog.quarantined += 1
            quarantined.append(Quarantined(source, window, index, problem[0], problem[1], dict(rec)))
            log.warning(
                "activity record quarantined: %s %s record %d field %s: %s",
                source,
                window,
                index,
                problem[0],
                problem[1],
                extra={"source": source, "field": problem[0]},
            )
            return
        key = str(rid).strip()
        if key in seen or key in out:
            prog.duplicates += 1
            return
        prog.new += 1
        out[key] = dict(rec)
        origins[key] = source


def _order(rec: Mapping[str, Any]) -> tuple[datetime, str]:
    ts = event_time(rec)
    assert ts is not None  # checked in _take
    return ts, str(rec["eventDataId"])
