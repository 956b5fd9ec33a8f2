"""What a handler needs from its host: config, state, queues and blob storage.

Function triggers and the CLI both build a :class:`Runtime`; handlers in
``vigil.handlers`` take one and never read the environment or the clock themselves.
Optional capabilities are explicit protocols, checked with ``isinstance``:
:class:`AzureAccess` (credential and client options: the Function App),
:class:`HasLogsEndpoint` (a Log Analytics endpoint), :class:`HasReceipts` (local delivery
receipts) and :class:`HasChannelSink` (the CLI's
outbox folder).
Implementations: ``vigil.runtime_azure.AzureRuntime`` (Function App: Azure
Storage Queues/Blobs/Tables, identity-based connections) and
``vigil.runtime_local.LocalRuntime`` (CLI: SQLite state, a local folder for
blobs, queues kept in the state store).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.runtime import BlobStore

if TYPE_CHECKING:
    from alerts.notify import DirectorySink
    from alerts.receipts import ReceiptJournal
    from core.state.base import StateStore
    from vigil.config import VigilConfig

__all__ = ["AzureAccess", "HasChannelSink", "HasLogsEndpoint", "HasReceipts", "Runtime"]


class Runtime(Protocol):
    @property
    def config(self) -> VigilConfig: ...

    @property
    def store(self) -> StateStore: ...

    def enqueue(self, queue: str, message: Mapping[str, Any], *, visibility_timeout: int = 0) -> None:
        """Send a JSON message to a queue (ingest parts, detect, alerts, remediation)."""
        ...

    def blobs(self, container: str) -> BlobStore:
        """Blob storage for a container (cost exports, normalized costs, dead letters)."""
        ...

    def setting(self, name: str, default: str | None = None) -> str | None:
        """An app setting (the only way handlers read host settings)."""
        ...

    def now(self) -> datetime:
        """The current time (timezone-aware UTC): the clock in Azure, the run's time in a batch run."""
        ...


@runtime_checkable
class AzureAccess(Protocol):
    """The Azure-only capabilities of a runtime: what the live sources and the remediation
    worker need to call ARM, Resource Graph and Azure Monitor. ``AzureRuntime`` has them;
    ``LocalRuntime`` does not (its sources are the tenant folder)."""

    @property
    def credential(self) -> Any:
        """An Entra ``TokenCredential``."""
        ...

    @property
    def azure_client_kwargs(self) -> dict[str, Any]:
        """Extra azure-mgmt client arguments (endpoint, CA bundle); empty in Azure."""
        ...

    @property
    def metrics_options(self) -> dict[str, Any]:
        """Extra ``ingest.metrics.MonitorMetrics`` arguments (e.g. ``use_batch``); empty in Azure."""
        ...


@runtime_checkable
class HasLogsEndpoint(Protocol):
    """A runtime that reaches Log Analytics somewhere other than ``api.loganalytics.io`` (``LogsQueryClient``
    arguments: endpoint, CA bundle); ``AzureLocalRuntime`` in tests. Without it the SDK's defaults apply."""

    @property
    def logs_client_kwargs(self) -> dict[str, Any]: ...


@runtime_checkable
class HasReceipts(Protocol):
    """A runtime whose shared state is remote keeps local delivery receipts (alerts.receipts)."""

    def receipts(self) -> ReceiptJournal: ...


@runtime_checkable
class HasChannelSink(Protocol):
    """A runtime whose notifications are written to files instead of sent (the CLI's outbox folder)."""

    def channel_sink(self) -> DirectorySink | None: ...
