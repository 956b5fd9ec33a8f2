"""The cost path: an export's manifest -> one ingest message per part -> normalized costs ->
overspend detection for the days the completed run covers, fanned out by subscription
(:mod:`vigil.handlers.cost_scopes`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import (
    COSTS_CONTAINER,
    DETECT_QUEUE,
    EXPORTS_CONTAINER,
    INGEST_QUEUE,
    raise_alerts,
    setting,
)

if TYPE_CHECKING:
    import pandas as pd

    from core.model import Finding
    from vigil.runtime import Runtime

__all__ = [
    "FOCUS_PREFIX",
    "blob_created_event",
    "handle_blob_created",
    "handle_detect",
    "handle_focus_created",
    "handle_ingest_part",
]

log = logging.getLogger(__name__)

_MARKER = "/containers/"
# Other clouds' FOCUS exports (AWS Data Exports, Google Cloud's BigQuery FOCUS view exported to CSV or
# Parquet) are copied into the exports container under this prefix, one folder per export run and
# billing period (e.g. focus/aws/<export>/data/BILLING_PERIOD=2026-10/<file>.parquet); see
# docs/cost-scale.md. They carry no Cost Management manifest.
FOCUS_PREFIX = "focus/"


def blob_created_event(container: str, path: str, *, event_id: str) -> dict[str, Any]:
    """A BlobCreated event for ``container/path`` in the Event Grid schema (what the CLI feeds
    :func:`handle_blob_created` for each export manifest of a tenant folder)."""
    return {
        "id": event_id,
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default{_MARKER}{container}/blobs/{path}",
        "data": {"api": "PutBlob"},
    }


def _blob_path(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(container, blob path) from a BlobCreated subject ``/blobServices/default/containers/C/blobs/P``."""
    subject = str(event.get("subject") or "")
    if _MARKER not in subject or "/blobs/" not in subject:
        return None
    rest = subject.split(_MARKER, 1)[1]
    container, _, path = rest.partition("/blobs/")
    return container, path


def handle_blob_created(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """BlobCreated on an export's manifest.json -> one ingest message per part."""
    from core.state.base import Namespace
    from ingest.cost import plan_parts
    from ingest.cost.manifest import ManifestError
    from ingest.cost.parts import export_event_refusal

    queue = setting(rt, INGEST_QUEUE)
    planned = skipped = 0
    for event in events:
        where = _blob_path(event)
        if where is None or not where[1].endswith("manifest.json"):
            skipped += 1
            continue
        container, path = where
        refused = export_event_refusal(container, path, exports_container=setting(rt, EXPORTS_CONTAINER))
        if refused:  # the container comes from configuration, never from the event
            log.warning("blob event refused: %s", refused, extra={"event_id": event.get("id")})
            skipped += 1
            continue
        data = rt.blobs(container).read(path)  # a missing blob raises: the platform retries
        try:
            messages = plan_parts(data, path)
        except ManifestError as exc:  # final: a retry reads the same manifest; the run is refused
            log.error("cost export run refused: %s", exc, extra={"event_id": event.get("id")})
            skipped += 1
            continue
        run_id = str(messages[0]["run_id"]) if messages else path
        marker = f"planned|{container}|{run_id}|{path}"
        if rt.store.get(Namespace.CHECKPOINTS, marker) is not None:
            skipped += 1
            continue
        for msg in messages:
            rt.enqueue(queue, {**msg, "container": container})
        rt.store.put(Namespace.CHECKPOINTS, marker, {"parts": len(messages), "event_id": event.get("id")})
        planned += len(messages)
    return {"parts_enqueued": planned, "skipped": skipped}


def handle_focus_created(events: list[dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    """BlobCreated on a FOCUS data file under :data:`FOCUS_PREFIX` -> one ingest message for its folder.

    The folder is the run: the message names no part, so ``ingest_part`` reads every data file beside
    it (as a manifest without a blob list does), through the same ``ingest_file`` the CLI's
    ``ingest_paths`` uses. Each file's event plans a run of the folder as it is then, ordered by the
    event time, so the run planned by the folder's last file replaces the earlier ones whatever order
    the queue delivers them in; a redelivered event (same id) plans nothing."""
    import hashlib
    import posixpath

    from core.state.base import Namespace
    from ingest.cost.manifest import is_data_file
    from ingest.cost.parts import MESSAGE_TYPE, export_event_refusal

    queue = setting(rt, INGEST_QUEUE)
    planned = skipped = 0
    for event in events:
        where = _blob_path(event)
        if where is None or not where[1].startswith(FOCUS_PREFIX) or not is_data_file(where[1]):
            skipped += 1
            continue
        container, path = where
        refused = export_event_refusal(container, path, exports_container=setting(rt, EXPORTS_CONTAINER))
        if refused:
            log.warning("FOCUS blob event refused: %s", refused, extra={"event_id": event.get("id")})
            skipped += 1
            continue
        event_id = str(event.get("id") or path)
        folder = posixpath.dirname(path)
        run_id = "focus-" + hashlib.sha256(f"{container}/{folder}|{event_id}".encode()).hexdigest()[:24]
        marker = f"planned|{container}|{run_id}|{folder}"
        if rt.store.get(Namespace.CHECKPOINTS, marker) is not None:
            skipped += 1
            continue
        when = str(event.get("eventTime") or event.get("time") or rt.now().isoformat())
        message = {
            "type": MESSAGE_TYPE,
            "manifest_path": f"{folder}/manifest.json",  # none exists: every data file of the folder is read
            "run_id": run_id,
            "submitted": when,
            "dataset_type": None,
            "data_version": None,
            "scope": None,
            "part_count": 1,
            "part": None,
            "part_index": 0,
            "container": container,
        }
        rt.enqueue(queue, message)
        rt.store.put(Namespace.CHECKPOINTS, marker, {"parts": 1, "event_id": event_id})
        planned += 1
    return {"parts_enqueued": planned, "skipped": skipped}


def handle_ingest_part(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Normalize one export part; the invocation that completes the run enqueues detection."""
    from ingest.cost import ingest_part

    source = rt.blobs(setting(rt, EXPORTS_CONTAINER))  # configuration, never the message
    result = ingest_part(message, source, rt.blobs(setting(rt, COSTS_CONTAINER)), rt.store)
    if result.get("run_complete"):
        rt.enqueue(
            setting(rt, DETECT_QUEUE),
            {
                "type": "cost-run",
                "run_id": result.get("run_id"),
                "days": result.get("days", []),
                "scope": result.get("scope"),
            },
        )
    return dict(result)


def _now(message: Mapping[str, Any], rt: Runtime) -> datetime:
    value = message.get("now")
    if value:
        from core.timeutil import parse_utc

        return parse_utc(str(value))
    return rt.now()


def _detection_marker(rt: Runtime, days: list[date], now: datetime) -> tuple[str, str]:
    """(checkpoint key, version) of one detection: the key names what is detected (the days and
    ``now``), the version what it is detected over (the live cost runs and the overspend config).

    Detection is a function of exactly these, so a detect message whose key was already
    evaluated at the same version has nothing new to say: a redelivered message, or the run
    of another dataset or scope covering the same days (an export's actual and FOCUS
    datasets complete one detect message each for the same month)."""
    import hashlib
    import json

    from ingest.cost.store import CostStore

    pointers = [
        (part.prefix, cur.get("run_id"), cur.get("swapped_at"))
        for part, cur in CostStore(rt.blobs(setting(rt, COSTS_CONTAINER))).partitions()
    ]
    what = json.dumps([sorted(d.isoformat() for d in days), now.isoformat()])
    over = json.dumps([pointers, rt.config.detectors.overspend.model_dump(mode="json")], sort_keys=True, default=str)
    digest = hashlib.sha256
    return f"detected|{digest(what.encode()).hexdigest()[:32]}", digest(over.encode()).hexdigest()


def handle_detect(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Overspend detection after a completed ingest run (or a scheduled group flush).

    A cost run fans out: one ``%DETECT_SCOPE_QUEUE%`` message per batch of subscriptions, then a tenant
    step that merges and raises the alerts (:mod:`vigil.handlers.cost_scopes`). Idempotent, and cheap
    when repeated: a message for days already detected over the same live cost runs (see
    :func:`_detection_marker`) returns ``{"skipped": ...}`` without reading costs; the tenant step
    writes the marker after the alerts were raised, so a failure redetects.
    """
    now = _now(message, rt)
    if message.get("type") == "flush":
        return {"alerts": raise_alerts([], rt, now)}
    from core.state.base import Namespace
    from vigil.handlers.cost_scopes import fan_out

    days = [date.fromisoformat(d) for d in message.get("days") or []]
    if not message.get("now") and days:
        now = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    marker, version = _detection_marker(rt, days, now)
    done = rt.store.get(Namespace.CHECKPOINTS, marker)
    if done is not None and done.value.get("version") == version:
        return {"skipped": "already detected over the same cost runs", "run_id": message.get("run_id")}
    return fan_out(rt, key=marker, version=version, now=now, days=days, run_id=message.get("run_id"))


def with_subscription_names(findings: list[Finding], costs: pd.DataFrame) -> list[Finding]:
    """Findings with ``annotations["subscription_name"]``: the display name the cost data gives their
    subscription (``SubAccountName``), for the cards and emails to show beside the id."""
    if costs.empty or not {"SubAccountId", "SubAccountName"} <= set(costs.columns):
        return findings
    pairs = costs[["SubAccountId", "SubAccountName"]].dropna().drop_duplicates("SubAccountId")
    names = {
        str(i).rstrip("/").rsplit("/", 1)[-1].lower(): str(n)
        for i, n in zip(pairs["SubAccountId"], pairs["SubAccountName"], strict=True)
        if str(n).strip()
    }

    def named(f: Finding) -> Finding:
        name = names.get((f.resource.subscription_id or "").lower())
        if not name or "subscription_name" in f.annotations:
            return f
        return replace(f, annotations={**f.annotations, "subscription_name": name})

    return [named(f) for f in findings]
