"""The Function App's :class:`vigil.runtime.Runtime`: Azure Storage queues, blobs and tables.

Storage is reached either through a connection string in ``AzureWebJobsStorage`` (local
development against Azurite) or, in Azure, through the identity-based settings
``AzureWebJobsStorage__{blob,queue,table}ServiceUri`` with the app's managed identity
(``__credential=managedidentity``, optional ``__clientId``). Queue messages are JSON,
base64-encoded: the Functions host's default ``messageEncoding``, so the queue triggers
read what :meth:`AzureRuntime.enqueue` writes.

Every Azure SDK import is local to the method that needs it: importing this module costs
next to nothing, which keeps the Function App's cold start short.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.runtime import MessageTooLargeError, queue_body
from vigil import telemetry

if TYPE_CHECKING:
    from alerts.receipts import ReceiptJournal
    from core.state.base import StateStore
    from vigil.config import VigilConfig
    from vigil.settings import Settings

__all__ = [
    "AZURITE_CONNECTION_STRING",
    "AzureBlobStore",
    "AzureRuntime",
    "MessageTooLargeError",
    "get_runtime",
    "reset_runtime",
]

logger = logging.getLogger(__name__)

# Azurite's documented, public development account (not a secret).
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
_DEV_STORAGE = "usedevelopmentstorage=true"


def expand_connection_string(conn: str) -> str:
    """``UseDevelopmentStorage=true`` -> Azurite's full connection string (the SDKs don't expand it)."""
    return AZURITE_CONNECTION_STRING if conn.strip().rstrip(";").lower() == _DEV_STORAGE else conn


class AzureBlobStore:
    """:class:`core.runtime.BlobStore` over one blob container (created on first write)."""

    def __init__(self, container_client: Any) -> None:
        self._client = container_client
        self._created = False
        self._lock = threading.Lock()

    @property
    def container(self) -> str:
        return str(self._client.container_name)

    def read(self, path: str) -> bytes:
        """The blob's bytes; :class:`FileNotFoundError` when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data = self._client.download_blob(path).readall()
        except ResourceNotFoundError:
            raise FileNotFoundError(f"blob {self.container}/{path} does not exist") from None
        return bytes(data)

    def write(self, path: str, data: bytes) -> None:
        """Writes (overwrites) the blob, creating the container if needed."""
        from azure.core.exceptions import ResourceNotFoundError

        self._ensure_container()
        try:
            self._client.upload_blob(path, data, overwrite=True)
        except ResourceNotFoundError:  # container deleted behind our back
            self._created = False
            self._ensure_container()
            self._client.upload_blob(path, data, overwrite=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Blob names under ``prefix``, in lexicographic order; nothing if the container is absent."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            names = list(self._client.list_blob_names(name_starts_with=prefix or None))
        except ResourceNotFoundError:
            return iter(())
        return iter(sorted(names))

    def delete(self, path: str) -> None:
        """Deletes the blob; deleting a missing blob is not an error (idempotent)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._client.delete_blob(path)
        except ResourceNotFoundError:
            return

    def exists(self, path: str) -> bool:
        return bool(self._client.get_blob_client(path).exists())

    def _ensure_container(self) -> None:
        if self._created:
            return
        from azure.core.exceptions import ResourceExistsError

        with self._lock:
            if self._created:
                return
            with contextlib.suppress(ResourceExistsError):
                self._client.create_container()
            self._created = True


class AzureRuntime:
    """The Function App's runtime. Clients, config and store are built lazily and reused."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        credential: Any = None,
        azure_client_kwargs: Mapping[str, Any] | None = None,
        config: VigilConfig | None = None,
        store: StateStore | None = None,
        metrics_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self._metrics_options = dict(metrics_options or {})
        self._env = dict(os.environ if env is None else env)
        self._credential = credential
        self._client_kwargs = dict(azure_client_kwargs or {})
        self._config = config
        self._store = store
        self._queues: dict[str, Any] = {}
        self._containers: dict[str, AzureBlobStore] = {}
        self._lock = threading.RLock()
        self._receipts: ReceiptJournal | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> AzureRuntime:
        """Settings from ``env`` (default ``os.environ``); ``kwargs`` as for the constructor."""
        from vigil.settings import Settings  # pydantic: keep it off the indexing path

        source = os.environ if env is None else env
        return cls(Settings.from_env(source), env=source, **kwargs)

    # --- Runtime protocol -------------------------------------------------------------

    @property
    def config(self) -> VigilConfig:
        if self._config is None:
            from vigil.config import load_config

            with self._lock:
                if self._config is None:
                    self._config = load_config(self.settings.config_path)
        return self._config

    @property
    def store(self) -> StateStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open_store()
        return self._store

    def enqueue(self, queue: str, message: Mapping[str, Any], *, visibility_timeout: int = 0) -> None:
        """Sends ``message`` as compact JSON; creates the queue on first use.

        The message carries the current operation id (:mod:`vigil.telemetry`), so the invocation that
        receives it logs the operation of the event or tick that caused it.
        """
        body = queue_body(queue, telemetry.stamp(message))
        size = len(body.encode("utf-8"))
        client = self._queue_client(queue)
        from azure.core.exceptions import ResourceNotFoundError

        try:
            client.send_message(body, visibility_timeout=visibility_timeout or None)
        except ResourceNotFoundError:  # queue deleted since we created it
            self._create_queue(client)
            client.send_message(body, visibility_timeout=visibility_timeout or None)
        logger.debug("enqueued message", extra={"queue": queue, "bytes": size})

    def blobs(self, container: str) -> AzureBlobStore:
        with self._lock:
            store = self._containers.get(container)
            if store is None:
                store = AzureBlobStore(self._blob_service().get_container_client(container))
                self._containers[container] = store
            return store

    def setting(self, name: str, default: str | None = None) -> str | None:
        """An app setting: its value, else the settings model's default, else ``default``."""
        value = self._env.get(name)
        if value is not None and value != "":
            return value
        try:
            modelled = self.settings.value(name)
        except KeyError:
            modelled = None
        return default if modelled is None else modelled

    # --- helpers --------------------------------------------------------------------

    def receipts(self) -> ReceiptJournal:
        """This instance's local delivery receipts (alerts.receipts), one file per state store.

        On local disk (the temp folder), named by a hash of where the shared state lives, so two
        apps or test runs on one machine never read each other's receipts; pruned when first opened.
        """
        with self._lock:
            if self._receipts is None:
                import hashlib
                import tempfile

                from alerts.receipts import ReceiptJournal

                where = "|".join(
                    str(part)
                    for part in (
                        self.settings.state,
                        self.settings.state_table,
                        self.settings.state_path,
                        self.connection_string() or "",
                        self._env.get("AzureWebJobsStorage__tableServiceUri", ""),
                        self._env.get("AzureWebJobsStorage__accountName", ""),
                    )
                )
                digest = hashlib.sha256(where.encode()).hexdigest()[:16]
                journal = ReceiptJournal(Path(tempfile.gettempdir()) / "vigil-receipts" / f"{digest}.sqlite")
                journal.prune(datetime.now(UTC))  # once per instance: receipts whose message never came back
                self._receipts = journal
            return self._receipts

    def close(self) -> None:
        """Closes the state store and drops cached clients."""
        with self._lock:
            if self._receipts is not None:
                self._receipts.close()
                self._receipts = None
            if self._store is not None:
                self._store.close()
                self._store = None
            self._queues.clear()
            self._containers.clear()

    def connection_string(self) -> str | None:
        secret = self.settings.storage_connection_string
        return None if secret is None else expand_connection_string(secret.get_secret_value())

    @property
    def credential(self) -> Any:
        """The app's Entra credential (a ``TokenCredential``), built on first use.

        Used for identity-based storage and by handlers for ARM, Resource Graph, Monitor and
        Cost Management. ``AzureWebJobsStorage__credential=managedidentity`` gives a
        ``ManagedIdentityCredential`` (client id from ``AzureWebJobsStorage__clientId`` or
        ``AZURE_CLIENT_ID``); otherwise ``DefaultAzureCredential`` (local development).
        """
        with self._lock:
            if self._credential is None:
                client_id = self.settings.storage_client_id or self.settings.azure_client_id
                if self.settings.storage_credential == "managedidentity":
                    from azure.identity import ManagedIdentityCredential

                    self._credential = (
                        ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
                    )
                else:
                    from azure.identity import DefaultAzureCredential

                    self._credential = DefaultAzureCredential(managed_identity_client_id=client_id)
            return self._credential

    @property
    def azure_client_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for azure-mgmt clients (endpoint, CA bundle); empty in Azure."""
        return dict(self._client_kwargs)

    @property
    def metrics_options(self) -> dict[str, Any]:
        """Extra ``ingest.metrics.MonitorMetrics`` arguments; empty in Azure."""
        return dict(self._metrics_options)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _service_uri(self, attr: str, setting: str) -> str:
        uri = getattr(self.settings, attr)
        if not uri:
            raise RuntimeError(
                f"no storage connection: set AzureWebJobsStorage (connection string) or {setting} "
                "(identity-based connection)"
            )
        return str(uri)

    def _blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        conn = self.connection_string()
        if conn is not None:
            return BlobServiceClient.from_connection_string(conn)
        uri = self._service_uri("storage_blob_service_uri", "AzureWebJobsStorage__blobServiceUri")
        return BlobServiceClient(account_url=uri, credential=self.credential)

    def _queue_client(self, queue: str) -> Any:
        with self._lock:
            client = self._queues.get(queue)
            if client is not None:
                return client
            from azure.storage.queue import BinaryBase64DecodePolicy, QueueClient, TextBase64EncodePolicy

            encode, decode = TextBase64EncodePolicy(), BinaryBase64DecodePolicy()
            conn = self.connection_string()
            if conn is not None:
                client = QueueClient.from_connection_string(
                    conn, queue, message_encode_policy=encode, message_decode_policy=decode
                )
            else:
                uri = self._service_uri("storage_queue_service_uri", "AzureWebJobsStorage__queueServiceUri")
                client = QueueClient(
                    account_url=uri,
                    queue_name=queue,
                    credential=self.credential,
                    message_encode_policy=encode,
                    message_decode_policy=decode,
                )
            self._create_queue(client)
            self._queues[queue] = client
            return client

    @staticmethod
    def _create_queue(client: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            client.create_queue()

    def _open_store(self) -> StateStore:
        from core.state import open_store

        env = dict(self._env)
        conn = self.connection_string()
        if conn is not None:
            env["AzureWebJobsStorage"] = conn
        if self.settings.state == "sqlite":
            return open_store("sqlite", path=self.settings.state_path, env=env)
        return open_store("table", connection=conn, env=env, table_name=self.settings.state_table)


_RUNTIME: AzureRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def get_runtime() -> AzureRuntime:
    """The process-wide runtime for Function invocations, built on first use from ``os.environ``.

    Host layer only: handlers receive the runtime as an argument and never call this.
    """
    global _RUNTIME  # noqa: PLW0603 - one cached runtime per worker process, by design
    if _RUNTIME is None:
        with _RUNTIME_LOCK:
            if _RUNTIME is None:
                _RUNTIME = AzureRuntime.from_env()
    return _RUNTIME


def reset_runtime() -> None:
    """Closes and forgets the cached runtime (tests; settings changes)."""
    global _RUNTIME  # noqa: PLW0603
    with _RUNTIME_LOCK:
        if _RUNTIME is not None:
            _RUNTIME.close()
        _RUNTIME = None


if TYPE_CHECKING:  # mypy checks that AzureRuntime satisfies the protocols
    from core.runtime import BlobStore
    from vigil.runtime import AzureAccess, Runtime

    def _conforms(rt: AzureRuntime, blobs: AzureBlobStore) -> tuple[Runtime, AzureAccess, BlobStore]:
        return rt, rt, blobs
