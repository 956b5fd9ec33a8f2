"""Function triggers of the ``ingest`` package: Cost Management export delivery.

Like every blueprint, this is a front door: it imports only the shared trigger plumbing in
:mod:`vigil.functions`, which calls :mod:`vigil.handlers` lazily.

``cost_manifest`` (Event Grid BlobCreated on ``.../manifest.json``) fans an export run out
into one ``%INGEST_QUEUE%`` message per part; ``focus_export`` (BlobCreated on a data file under
``focus/``: AWS or Google Cloud FOCUS exports) plans one message for the file's folder;
``ingest_part`` normalizes one part. The fan-out goes through the queue, so the Function App
scales out over parts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func

from vigil.functions import event_to_dict, run_event_handler, run_queue_handler

__all__ = ["bp"]

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]

_BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_MANIFEST = "manifest.json"
_FOCUS_MARKER = "/blobs/focus/"  # vigil.handlers.cost.FOCUS_PREFIX under any container (the handler checks it)


def _wanted(event: func.EventGridEvent, accept: Callable[[str], bool]) -> bool:
    """True for a BlobCreated event whose subject ``accept`` takes; anything else is logged and ignored."""
    data = event_to_dict(event)
    event_type = str(data.get("eventType") or data.get("type") or "")
    subject = str(data.get("subject") or "")
    if event_type == _BLOB_CREATED and accept(subject):
        return True
    logger.info(
        "ignored event %s (%s) for %s",
        data["id"],
        event_type,
        subject,
        extra={"event_id": data["id"], "event_type": event_type, "subject": subject},
    )
    return False


@bp.function_name("cost_manifest")
@bp.event_grid_trigger(arg_name="event")
def cost_manifest(event: func.EventGridEvent) -> None:
    """A Cost Management export run finished writing: enqueue one message per part."""
    if not _wanted(event, lambda subject: subject.endswith(_MANIFEST)):
        return
    from vigil import handlers

    run_event_handler(event, handlers.handle_blob_created)


@bp.function_name("focus_export")
@bp.event_grid_trigger(arg_name="event")
def focus_export(event: func.EventGridEvent) -> None:
    """An AWS or Google Cloud FOCUS export file landed under ``focus/``: enqueue its folder's ingest."""
    if not _wanted(event, lambda subject: _FOCUS_MARKER in subject):
        return
    from vigil import handlers

    run_event_handler(event, handlers.handle_focus_created)


@bp.function_name("ingest_part")
@bp.queue_trigger(arg_name="msg", queue_name="%INGEST_QUEUE%", connection="AzureWebJobsStorage")
def ingest_part(msg: func.QueueMessage) -> None:
    """Normalizes one export part; the run's last part enqueues detection."""
    from vigil import handlers

    run_queue_handler(msg, "INGEST_QUEUE", handlers.handle_ingest_part)
