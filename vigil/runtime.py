"""What a handler needs from its host: config, state, queues and blob storage.

Function triggers and the CLI both build a :class:`Runtime`; handlers in
``vigil.handlers`` take one and never read the environment themselves.
Implementations: ``vigil.runtime_azure.AzureRuntime`` (Function App: Azure
Storage Queues/Blobs/Tables, identity-based connections) and
``vigil.runtime_local.LocalRuntime`` (CLI: SQLite state, a local folder for
blobs, queues kept in the state store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.runtime import BlobStore

if TYPE_CHECKING:
    from alerts.receipts import ReceiptJournal
    from core.state.base import StateStore
    from vigil.config import VigilConfig

__all__ = ["HasReceipts", "Runtime"]


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


@runtime_checkable
class HasReceipts(Protocol):
    """A runtime whose shared state is remote keeps local delivery receipts (alerts.receipts)."""

    def receipts(self) -> ReceiptJournal: ...
