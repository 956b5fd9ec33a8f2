"""The CLI's :class:`vigil.runtime.Runtime`: local folders for blobs, queues in the state store.

The CLI runs exactly the handlers the Function App runs (``vigil run``, ``vigil demo``,
``vigil events replay``). Where the Function App hands a
message to a Storage Queue and the host later calls the queue trigger, the CLI puts the
message in a durable queue kept in the state store (namespace ``"queues"``, apart from
the alerts outbox in ``Namespace.OUTBOX``) and calls :meth:`LocalRuntime.drain` (or
:meth:`LocalRuntime.drain_all`) to run the handlers over it. Messages survive a crash
between enqueue and delivery; a message is deleted only after its handler returned, so
delivery is at-least-once, as in Azure.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.runtime import MAX_DEQUEUE_COUNT, LocalBlobStore, queue_body
from core.state.base import StateStore
from vigil.config import VigilConfig

if TYPE_CHECKING:
    from alerts.notify import DirectorySink
    from core.runtime import BlobStore
    from vigil.runtime import HasChannelSink, Runtime
    from vigil.tenant import TenantFolder

__all__ = [
    "MAX_DEQUEUE_COUNT",
    "QUEUES_NAMESPACE",
    "AzureLocalRuntime",
    "DrainResult",
    "LocalRuntime",
    "QueueHandler",
    "QueueTrigger",
    "local_link_signing",
    "tenant_runtime",
]

logger = logging.getLogger(__name__)

QueueHandler = Callable[[dict[str, Any]], Any]
QueueTrigger = Callable[[dict[str, Any], "Runtime"], dict[str, Any]]  # a handler as a queue trigger calls it
QUEUES_NAMESPACE = "queues"  # not Namespace.OUTBOX: the alerts outbox mirror (alerts.outbox.QueueOutbox)
_SEP = ":"


@dataclass
class DrainResult:
    """What one :meth:`LocalRuntime.drain` did."""

    queue: str
    processed: int = 0
    failed: int = 0
    poisoned: int = 0
    results: list[Any] = field(default_factory=list)


class LocalRuntime:
    """Runtime for the CLI and tests: ``LocalRuntime(config, store, root)``.

    ``root`` holds one folder per blob container. ``settings`` are the app settings the
    handlers may ask for (default: none, so handlers use their defaults); ``clock`` gives
    the current time (the handlers' ``rt.now()`` and message visibility); ``sink`` is a
    folder notifications are written to instead of sent (the CLI's outbox); ``mounts`` maps
    a container to a folder elsewhere (a tenant folder's ``exports/`` as the export container);
    ``containers`` serves a container from another :class:`~core.runtime.BlobStore` (live ``vigil run``:
    the export container in the user's storage account).
    """

    def __init__(
        self,
        config: VigilConfig,
        store: StateStore,
        root: Path,
        *,
        settings: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        sink: Path | None = None,
        mounts: Mapping[str, Path] | None = None,
        containers: Mapping[str, BlobStore] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self.root = Path(root)
        self._settings = dict(settings or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seq = itertools.count()
        self._sink = sink
        self._mounts = {name: Path(folder) for name, folder in (mounts or {}).items()}
        self._containers = dict(containers or {})

    @property
    def config(self) -> VigilConfig:
        return self._config

    @property
    def store(self) -> StateStore:
        return self._store

    def blobs(self, container: str) -> BlobStore:
        remote = self._containers.get(container)
        return remote if remote is not None else LocalBlobStore(self.local_folder(container))

    def local_folder(self, container: str) -> Path:
        """The folder behind a local container (``root/<container>``, or its mount)."""
        if not container or "/" in container or container.startswith("."):
            raise ValueError(f"invalid container name {container!r}")
        return self._mounts.get(container, self.root / container)

    def setting(self, name: str, default: str | None = None) -> str | None:
        """An app setting: from ``settings``, else the settings model's default (queue and
        container names match the Function App's), else ``default``."""
        value = self._settings.get(name)
        if value is not None and value != "":
            return value
        from vigil.settings import Settings

        try:
            modelled = Settings.model_construct().value(name)
        except KeyError:
            modelled = None
        return default if modelled is None else modelled

    def channel_sink(self) -> DirectorySink | None:
        """With ``sink`` (a folder), notifications are written there instead of sent."""
        if self._sink is None:
            return None
        from alerts.notify import DirectorySink

        return DirectorySink(self._sink)

    def now(self) -> datetime:
        """The runtime's clock: the handlers' current time and the queues' visibility clock."""
        return self._clock()

    def enqueue(self, queue: str, message: Mapping[str, Any], *, visibility_timeout: int = 0) -> None:
        """Stores the message durably; it becomes visible ``visibility_timeout`` seconds from now."""
        body = json.loads(queue_body(queue, message))  # the same JSON and size limit as a real queue
        now = self._clock()
        key = f"{queue}{_SEP}{time.time_ns():020d}{_SEP}{next(self._seq):06d}"
        self._store.put(
            QUEUES_NAMESPACE,
            key,
            {
                "queue": queue,
                "body": body,
                "enqueued_at": now.isoformat(),
                "visible_at": now.timestamp() + max(0, visibility_timeout),
                "dequeue_count": 0,
            },
        )

    def pending(self, queue: str) -> list[dict[str, Any]]:
        """The message bodies waiting in ``queue``, oldest first (visible or not)."""
        return [dict(r.value["body"]) for r in self._records(queue)]

    def drain(
        self,
        queue: str,
        handler: QueueHandler,
        *,
        max_messages: int | None = None,
        ignore_visibility: bool = False,
    ) -> DrainResult:
        """Runs ``handler`` over the visible messages of ``queue``, oldest first.

        A message is deleted after its handler returns. A handler that raises leaves the
        message in place with its dequeue count raised; after ``MAX_DEQUEUE_COUNT`` failures
        it moves to ``<queue>-poison`` (what the Functions host does). Messages the handler
        enqueues on the same queue are picked up by the same drain.
        """
        result = DrainResult(queue=queue)
        attempted: set[str] = set()
        batch: list[Any] = []  # the queue read once, then read again when used up (not once per message)
        while max_messages is None or result.processed + result.failed < max_messages:
            now = self._clock().timestamp()
            record = None
            refilled = False
            while record is None:
                if not batch:
                    if refilled:
                        break  # read again just now: nothing visible is left
                    batch = [r for r in self._records(queue) if r.key not in attempted]
                    batch.reverse()
                    refilled = True
                    if not batch:
                        break
                candidate = batch.pop()
                if candidate.key in attempted or not (ignore_visibility or float(candidate.value["visible_at"]) <= now):
                    continue
                record = self._store.get(QUEUES_NAMESPACE, candidate.key)  # still queued (another drain?)
            if record is None:
                break
            attempted.add(record.key)
            body = dict(record.value["body"])
            try:
                out = handler(body)
            except Exception:
                result.failed += 1
                count = int(record.value.get("dequeue_count", 0)) + 1
                logger.exception(
                    "handler failed for queue message %s (attempt %d)",
                    record.key,
                    count,
                    extra={"queue": queue, "message_key": record.key, "dequeue_count": count},
                )
                if count >= MAX_DEQUEUE_COUNT:
                    self.enqueue(f"{queue}-poison", body)
                    self._store.delete(QUEUES_NAMESPACE, record.key)
                    result.poisoned += 1
                else:
                    self._store.put(QUEUES_NAMESPACE, record.key, {**record.value, "dequeue_count": count})
                continue
            self._store.delete(QUEUES_NAMESPACE, record.key)
            result.processed += 1
            result.results.append(out)
        return result

    def drain_all(
        self, handlers: Mapping[str, QueueHandler], *, max_rounds: int = 100, ignore_visibility: bool = False
    ) -> dict[str, DrainResult]:
        """Drains every queue in ``handlers`` until all are empty (fan-out, then fan-in)."""
        totals = {q: DrainResult(queue=q) for q in handlers}
        for _ in range(max_rounds):
            progressed = False
            for queue, handler in handlers.items():
                res = self.drain(queue, handler, ignore_visibility=ignore_visibility)
                total = totals[queue]
                total.processed += res.processed
                total.failed += res.failed
                total.poisoned += res.poisoned
                total.results.extend(res.results)
                progressed = progressed or res.processed > 0 or res.poisoned > 0
            if not progressed:
                break
        return totals

    def queue_triggers(self, *, deliver: bool = True) -> dict[str, QueueTrigger]:
        """The Function App's queue triggers this host runs, in fan-out order: queue name -> handler.

        ``INGEST_QUEUE`` -> ``handle_ingest_part``, ``DETECT_QUEUE`` -> ``handle_detect``,
        ``DETECT_SCOPE_QUEUE`` -> ``handle_detect_scopes`` (its batches, then the tenant step) and, with
        ``deliver``, ``ALERTS_QUEUE`` -> ``dispatch_alert``. The remediation queue is not
        run locally: its worker acts on Azure through ARM, which a local runtime cannot reach.
        The handlers are looked up when this is called (one name for each, in ``vigil.handlers``).
        """
        from vigil import handlers

        table: dict[str, QueueTrigger] = {
            self.setting("INGEST_QUEUE") or "vigil-ingest": handlers.handle_ingest_part,
            self.setting("DETECT_QUEUE") or "vigil-detect": handlers.handle_detect,
            self.setting("DETECT_SCOPE_QUEUE") or "vigil-detect-scope": handlers.handle_detect_scopes,
        }
        if deliver:
            table[self.setting("ALERTS_QUEUE") or "vigil-alerts"] = handlers.dispatch_alert
        return table

    def run_pending(
        self, *, deliver: bool = True, ignore_visibility: bool = False, max_rounds: int = 100
    ) -> dict[str, DrainResult]:
        """The local host: runs every queued message through the handler its Function calls
        (:meth:`queue_triggers`) until the queues are empty (``deliver=False`` leaves the
        notifications queued for inspection). ``ignore_visibility`` also runs delayed messages
        now (e.g. group flushes scheduled ``group_wait`` ahead).
        """

        def bind(handler: QueueTrigger) -> QueueHandler:
            return lambda message: handler(message, self)

        table = {queue: bind(handler) for queue, handler in self.queue_triggers(deliver=deliver).items()}
        return self.drain_all(table, max_rounds=max_rounds, ignore_visibility=ignore_visibility)

    def _records(self, queue: str) -> list[Any]:
        prefix = f"{queue}{_SEP}"
        return sorted(
            (r for r in self._store.query(QUEUES_NAMESPACE, prefix) if r.value.get("queue") == queue),
            key=lambda r: r.key,
        )


def local_link_signing(out_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings that sign the CLI's card links (``vigil.handlers.link_signing`` reads them).

    ``VIGIL_SIGNING_KEY`` and ``VIGIL_PUBLIC_BASE_URL`` from the environment win; otherwise a
    random key is made once per output folder (``.signing-key``, readable by its owner only)
    and links point at a local Functions host (``http://localhost:7071``), so the demo's cards
    carry working Acknowledge / Silence 24h / Approve remediation buttons for `func start`.
    """
    import secrets

    environ = os.environ if env is None else env
    base = environ.get("VIGIL_PUBLIC_BASE_URL") or "http://localhost:7071"
    key = environ.get("VIGIL_SIGNING_KEY")
    if not key:
        path = out_dir / ".signing-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(48))
        key = path.read_text(encoding="utf-8").strip()
    return {"VIGIL_SIGNING_KEY": key, "VIGIL_PUBLIC_BASE_URL": base}


def tenant_runtime(
    tenant: TenantFolder,
    *,
    config: VigilConfig,
    store: StateStore,
    out_dir: Path,
    data_dir: Path,
    outbox_dir: Path,
    clock: Callable[[], datetime],
) -> LocalRuntime:
    """The runtime ``vigil run`` gives the handlers: the tenant folder as the live source
    (``VIGIL_TENANT_DIR``) and its ``exports/`` as the export container, blobs below
    ``data_dir``, ``outbox_dir`` as the channel sink, card links signed per ``out_dir``."""
    from vigil.handlers._common import EXPORTS_CONTAINER, TENANT_DIR

    exports = EXPORTS_CONTAINER[1]
    settings = {TENANT_DIR: str(tenant.root), EXPORTS_CONTAINER[0]: exports, **local_link_signing(out_dir)}
    return LocalRuntime(
        config,
        store,
        data_dir,
        settings=settings,
        clock=clock,
        sink=outbox_dir,
        mounts={exports: tenant.exports_root},
    )


class AzureLocalRuntime(LocalRuntime):
    """A :class:`LocalRuntime` with :class:`vigil.runtime.AzureAccess`: ``vigil run`` without ``--tenant``.

    The handlers' live sources (:class:`vigil.handlers.sources.LiveSources`) read Azure with
    ``credential`` (``DefaultAzureCredential`` on a laptop); state, queues and normalized costs stay
    local. ``azure_client_kwargs`` and ``metrics_options`` are as for ``AzureRuntime``, ``logs_client_kwargs``
    are ``LogsQueryClient`` arguments (all empty against Azure; a test points them at the local HTTPS
    server)."""

    def __init__(
        self,
        config: VigilConfig,
        store: StateStore,
        root: Path,
        *,
        credential: Any,
        azure_client_kwargs: Mapping[str, Any] | None = None,
        metrics_options: Mapping[str, Any] | None = None,
        logs_client_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, store, root, **kwargs)
        # plain attributes satisfy the protocols' read-only properties; readers copy before changing them
        self.credential: Any = credential
        self.azure_client_kwargs: dict[str, Any] = dict(azure_client_kwargs or {})
        self.metrics_options: dict[str, Any] = dict(metrics_options or {})
        self.logs_client_kwargs: dict[str, Any] = dict(logs_client_kwargs or {})


if TYPE_CHECKING:  # mypy checks that LocalRuntime satisfies the protocols
    from vigil.runtime import AzureAccess, HasLogsEndpoint

    def _conforms(
        rt: LocalRuntime, live: AzureLocalRuntime, blobs: LocalBlobStore
    ) -> tuple[Runtime, HasChannelSink, AzureAccess, HasLogsEndpoint, BlobStore]:
        return rt, rt, live, live, blobs
